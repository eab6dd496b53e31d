package org.jcpg;

/** Why a process appears in a membership change ({@code cpg_reason_t}). */
public enum Reason {
    /** No reason: entries of the current member list, and of {@link CpgConnection#membership}. */
    UNDEFINED(0),
    /** The process joined the group. */
    JOIN(1),
    /** The process left the group ({@code cpg_leave}). */
    LEAVE(2),
    /** The process's node left the cluster. */
    NODEDOWN(3),
    /** The process's node joined the cluster, bringing the process with it. */
    NODEUP(4),
    /** The process died, or closed its connection without leaving. */
    PROCDOWN(5);

    private static final Reason[] BY_CODE = values();

    private final int code;

    Reason(int code) {
        this.code = code;
    }

    /** {@return the numeric {@code cpg_reason_t} value} */
    public int code() {
        return code;
    }

    /**
     * The constant for a {@code cpg_reason_t} value; a value unknown to this version is {@link #UNDEFINED}.
     *
     * @param code a {@code cpg_reason_t} value
     * @return its constant, or {@link #UNDEFINED}
     */
    public static Reason of(int code) {
        return code >= 0 && code < BY_CODE.length ? BY_CODE[code] : UNDEFINED;
    }
}
