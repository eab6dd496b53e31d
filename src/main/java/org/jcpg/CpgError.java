package org.jcpg;

/**
 * The error codes of corosync's {@code cs_error_t}, each with its numeric
 * value. {@code CS_OK} is not an error and has no constant here.
 */
public enum CpgError {
    /** libcpg could not talk to the daemon: it is not running, not reachable, or went away. */
    LIBRARY(2),
    /** The daemon does not support the requested version. */
    VERSION(3),
    /** The library or connection is not initialized. */
    INIT(4),
    /** A call to the daemon timed out. */
    TIMEOUT(5),
    /** The daemon is busy (synchronizing, or its queue is full): call again later. */
    TRY_AGAIN(6),
    /** An argument was refused, e.g. an unknown flag or iteration type. */
    INVALID_PARAM(7),
    /** Out of memory, in libcpg or the daemon. */
    NO_MEMORY(8),
    /** The handle is not (or no longer) valid. */
    BAD_HANDLE(9),
    /** The resource is in use. */
    BUSY(10),
    /** Permission denied, e.g. by the daemon's uidgid configuration. */
    ACCESS(11),
    /** The object does not exist, e.g. leaving a group not joined. */
    NOT_EXIST(12),
    /** A name is longer than corosync allows. */
    NAME_TOO_LONG(13),
    /** Already exists, e.g. a second join of a group by the same process or handle. */
    EXIST(14),
    /** No space left. */
    NO_SPACE(15),
    /** A configuration change interrupted a fragmented send; receivers dropped the part they had. */
    INTERRUPT(16),
    /** The name was not found. */
    NAME_NOT_FOUND(17),
    /** The daemon is out of resources. */
    NO_RESOURCES(18),
    /** The operation is not supported. */
    NOT_SUPPORTED(19),
    /** The operation is not allowed now. */
    BAD_OPERATION(20),
    /** The operation failed. */
    FAILED_OPERATION(21),
    /** A message could not be handled. */
    MESSAGE_ERROR(22),
    /** A queue is full. */
    QUEUE_FULL(23),
    /** A queue is not available. */
    QUEUE_NOT_AVAILABLE(24),
    /** Invalid flags. */
    BAD_FLAGS(25),
    /** Too big, e.g. a zero-copy send above 1 MiB. */
    TOO_BIG(26),
    /** No more entries: the end of an iteration. */
    NO_SECTIONS(27),
    /** No context is set. */
    CONTEXT_NOT_FOUND(28),
    /** Too many groups. */
    TOO_MANY_GROUPS(30),
    /** Refused for security reasons. */
    SECURITY(100),
    /**
     * A code that this version of jcpg does not know (a newer corosync);
     * {@link CpgException#code()} has the number.
     */
    UNKNOWN(-1);

    private final int code;

    CpgError(int code) {
        this.code = code;
    }

    /** {@return the numeric {@code cs_error_t} value} E.g. 6 for {@code CS_ERR_TRY_AGAIN}; -1 for {@link #UNKNOWN}. */
    public int code() {
        return code;
    }

    /**
     * Whether the same call may succeed if simply made again later:
     * {@link #TRY_AGAIN} (the daemon is busy or its queue is full) and
     * {@link #INTERRUPT} (a configuration change broke a fragmented send; the
     * receivers dropped what they had of it, so sending it again loses and
     * duplicates nothing). The others say something about the call, the
     * connection or the daemon that waiting does not change.
     *
     * @return true for {@link #TRY_AGAIN} and {@link #INTERRUPT}
     */
    public boolean isRetryable() {
        return this == TRY_AGAIN || this == INTERRUPT;
    }

    /**
     * The constant for a {@code cs_error_t} value: {@link #UNKNOWN} for a
     * value that corosync 3.1 does not define, and for {@code CS_OK} (1),
     * which is not an error.
     *
     * @param code a {@code cs_error_t} value
     * @return its constant, or {@link #UNKNOWN}
     */
    public static CpgError of(int code) {
        for (CpgError error : BY_ORDINAL) {
            if (error.code == code && error != UNKNOWN) {
                return error;
            }
        }
        return UNKNOWN;
    }

    private static final CpgError[] BY_ORDINAL = values();
}
