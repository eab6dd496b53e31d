package org.jcpg.tool;

/** Ends a command with an exit code and one line for stderr. */
final class Failure extends RuntimeException {
    private static final long serialVersionUID = 1L;

    final int exitCode;

    Failure(int exitCode, String message) {
        super(message);
        this.exitCode = exitCode;
    }

    Failure(int exitCode, String message, Throwable cause) {
        super(message, cause);
        this.exitCode = exitCode;
    }

    static Failure usage(String message) {
        return new Failure(Exit.USAGE, message);
    }
}
