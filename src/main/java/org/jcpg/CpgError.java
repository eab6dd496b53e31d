package org.jcpg;

/**
 * The error codes of corosync's {@code cs_error_t}, each with its numeric
 * value. {@code CS_OK} is not an error and has no constant here.
 */
public enum CpgError {
    LIBRARY(2),
    VERSION(3),
    INIT(4),
    TIMEOUT(5),
    /** The daemon is busy (synchronizing, or its queue is full): call again later. */
    TRY_AGAIN(6),
    INVALID_PARAM(7),
    NO_MEMORY(8),
    BAD_HANDLE(9),
    BUSY(10),
    ACCESS(11),
    NOT_EXIST(12),
    NAME_TOO_LONG(13),
    EXIST(14),
    NO_SPACE(15),
    /** A configuration change interrupted a fragmented send; receivers dropped the part they had. */
    INTERRUPT(16),
    NAME_NOT_FOUND(17),
    NO_RESOURCES(18),
    NOT_SUPPORTED(19),
    BAD_OPERATION(20),
    FAILED_OPERATION(21),
    MESSAGE_ERROR(22),
    QUEUE_FULL(23),
    QUEUE_NOT_AVAILABLE(24),
    BAD_FLAGS(25),
    TOO_BIG(26),
    NO_SECTIONS(27),
    CONTEXT_NOT_FOUND(28),
    TOO_MANY_GROUPS(30),
    SECURITY(100);

    private final int code;

    CpgError(int code) {
        this.code = code;
    }

    /** The numeric {@code cs_error_t} value, e.g. 6 for {@code CS_ERR_TRY_AGAIN}. */
    public int code() {
        return code;
    }

    /**
     * Whether the same call may succeed if simply made again later. Only
     * {@link #TRY_AGAIN} is: the others say something about the call, the
     * connection or the daemon that waiting does not change.
     */
    public boolean isRetryable() {
        return this == TRY_AGAIN;
    }

    /**
     * The constant for a {@code cs_error_t} value.
     *
     * @throws IllegalArgumentException for {@code CS_OK} (1) or a value corosync does not define
     */
    public static CpgError of(int code) {
        for (CpgError error : values()) {
            if (error.code == code) {
                return error;
            }
        }
        throw new IllegalArgumentException("not a cs_error_t error code: " + code);
    }
}
