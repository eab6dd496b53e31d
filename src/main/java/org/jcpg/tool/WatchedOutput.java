package org.jcpg.tool;

import java.io.FilterOutputStream;
import java.io.IOException;
import java.io.OutputStream;

/**
 * The tool's standard output, remembering why a write failed: a
 * {@link java.io.PrintStream} swallows the {@link IOException} and only
 * sets its error flag, and the one line on stderr should say what went
 * wrong ("No space left on device", "Broken pipe").
 */
final class WatchedOutput extends FilterOutputStream {
    private volatile IOException failure;

    WatchedOutput(OutputStream out) {
        super(out);
    }

    /** {@return the first write or flush failure, or null} */
    IOException failure() {
        return failure;
    }

    @Override
    public void write(int b) throws IOException {
        try {
            out.write(b);
        } catch (IOException e) {
            throw remember(e);
        }
    }

    @Override
    public void write(byte[] bytes, int offset, int length) throws IOException {
        try {
            out.write(bytes, offset, length);
        } catch (IOException e) {
            throw remember(e);
        }
    }

    @Override
    public void flush() throws IOException {
        try {
            out.flush();
        } catch (IOException e) {
            throw remember(e);
        }
    }

    private IOException remember(IOException e) {
        if (failure == null) {
            failure = e;
        }
        return e;
    }
}
