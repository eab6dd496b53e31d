package org.jcpg;

import java.util.Objects;

/**
 * A libcpg call returned an error.
 *
 * <p>Unchecked, like {@link java.io.UncheckedIOException} in spirit: nearly
 * every CPG call can fail only because the daemon went away or was asked
 * something impossible, and the caller can rarely recover on the spot; a
 * checked exception would force a {@code throws} on every callback and
 * lambda that sends a message. The errors worth handling locally,
 * {@link CpgError#TRY_AGAIN} and {@link CpgError#INTERRUPT}, are told apart
 * by {@link #isRetryable()}.
 *
 * <p>Misuse that jcpg can see without asking the daemon (a closed
 * connection, a bad group name, a send before join) is reported as
 * {@link IllegalStateException} or {@link IllegalArgumentException} instead.
 */
public final class CpgException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    /** What libcpg returned, as jcpg knows it. */
    private final CpgError error;
    /** The {@code cs_error_t} value as returned. */
    private final int code;
    /** The libcpg function that failed. */
    private final String operation;

    /**
     * An error that a libcpg function returned.
     *
     * @param operation the libcpg function that failed, e.g. {@code "cpg_join"}
     * @param code      the {@code cs_error_t} it returned; one that jcpg does not
     *                  know is kept as it is, with {@link #error()} {@link CpgError#UNKNOWN}
     */
    public CpgException(String operation, int code) {
        super(message(Objects.requireNonNull(operation, "operation"), code));
        this.operation = operation;
        this.code = code;
        this.error = CpgError.of(code);
    }

    private static String message(String operation, int code) {
        CpgError error = CpgError.of(code);
        String what = error == CpgError.UNKNOWN
                ? "cs_error_t " + code + ", unknown to jcpg"
                : "CS_ERR_" + error.name() + " (" + code + ")";
        String hint = error == CpgError.LIBRARY && operation.endsWith("initialize")
                ? " - is corosync running, and reachable from this network namespace?" : "";
        return operation + " failed: " + what + hint;
    }

    /** {@return what libcpg returned} {@link CpgError#UNKNOWN} for a code this version does not know. */
    public CpgError error() {
        return error;
    }

    /** {@return the numeric {@code cs_error_t} value, as libcpg returned it} */
    public int code() {
        return code;
    }

    /** {@return the libcpg function that failed} E.g. {@code "cpg_mcast_joined"}. */
    public String operation() {
        return operation;
    }

    /** {@return whether making the same call again later may succeed} ({@link CpgError#isRetryable()}) */
    public boolean isRetryable() {
        return error.isRetryable();
    }
}
