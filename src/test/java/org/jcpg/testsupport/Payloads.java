package org.jcpg.testsupport;

import static org.assertj.core.api.Assertions.fail;

import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import org.jcpg.CpgConnection;
import org.jcpg.CpgException;
import org.jcpg.DispatchMode;
import org.jcpg.Guarantee;
import org.jcpg.Message;

/** Recognizable message contents, and sending that rides out flow control. */
public final class Payloads {
    private Payloads() {
    }

    /** Message {@code k} of {@code size} bytes: k as a big-endian int, then a pattern that depends on k and the offset. */
    public static byte[] pattern(int k, int size) {
        byte[] bytes = new byte[size];
        for (int i = 0; i < size; i++) {
            bytes[i] = (byte) (k * 131 + i * 7 + (i >>> 8));
        }
        if (size >= 4) {
            ByteBuffer.wrap(bytes).putInt(0, k);
        }
        return bytes;
    }

    /** The k in a pattern message's first four bytes. */
    public static int index(MemorySegment payload) {
        return ByteBuffer.wrap(payload.asSlice(0, 4).toArray(java.lang.foreign.ValueLayout.JAVA_BYTE)).getInt();
    }

    /** Whether the payload is exactly pattern(k, size), compared byte for byte. */
    public static boolean matches(MemorySegment payload, int k, int size) {
        return payload.byteSize() == size && payload.mismatch(MemorySegment.ofArray(pattern(k, size))) == -1;
    }

    /** Multicasts, retrying on TRY_AGAIN (flow control) after dispatching the given connections. */
    public static void send(CpgConnection sender, byte[] message, CpgConnection... drain) {
        long deadline = System.nanoTime() + 20_000_000_000L;
        while (true) {
            try {
                sender.multicast(Guarantee.AGREED, message);
                return;
            } catch (CpgException e) {
                if (!e.isRetryable()) {
                    throw e;
                }
                if (System.nanoTime() > deadline) {
                    fail("multicast kept answering TRY_AGAIN", e);
                }
                for (CpgConnection c : drain) {
                    c.dispatch(DispatchMode.ALL);
                }
                try {
                    Thread.sleep(1);
                } catch (InterruptedException ie) {
                    Thread.currentThread().interrupt();
                    throw new IllegalStateException(ie);
                }
            }
        }
    }
}
