package org.jcpg;

import java.util.Objects;

/**
 * A libcpg call returned an error.
 *
 * <p>Unchecked, like {@link java.io.UncheckedIOException} in spirit: nearly
 * every CPG call can fail only because the daemon went away or was asked
 * something impossible, and the caller can rarely recover on the spot; a
 * checked exception would force a {@code throws} on every callback and
 * lambda that sends a message. The one error worth handling locally,
 * {@link CpgError#TRY_AGAIN}, is told apart by {@link #isRetryable()}.
 *
 * <p>Misuse that jcpg can see without asking the daemon (a closed
 * connection, a bad group name, a send before join) is reported as
 * {@link IllegalStateException} or {@link IllegalArgumentException} instead.
 */
public final class CpgException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    private final CpgError error;
    private final String operation;

    /**
     * @param operation the libcpg function that failed, e.g. {@code "cpg_join"}
     * @param error     what it returned
     * @param detail    corosync's text for the error ({@code cs_strerror}), or more
     */
    CpgException(String operation, CpgError error, String detail) {
        super(operation + " failed: CS_ERR_" + error.name() + " (" + error.code() + "): " + detail);
        this.operation = Objects.requireNonNull(operation, "operation");
        this.error = error;
    }

    /** What libcpg returned. */
    public CpgError error() {
        return error;
    }

    /** The numeric {@code cs_error_t} value. */
    public int code() {
        return error.code();
    }

    /** The libcpg function that failed, e.g. {@code "cpg_mcast_joined"}. */
    public String operation() {
        return operation;
    }

    /** Whether making the same call again later may succeed ({@link CpgError#TRY_AGAIN}). */
    public boolean isRetryable() {
        return error.isRetryable();
    }
}
