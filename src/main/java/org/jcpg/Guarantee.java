package org.jcpg;

/**
 * The delivery guarantee asked of a multicast ({@code cpg_guarantee_t}).
 * corosync 3 delivers every message in agreed (total) order whatever is
 * asked: {@link #UNORDERED} and {@link #SAFE} are documented as not
 * implemented, and {@link #FIFO} is the same as {@link #AGREED}.
 */
public enum Guarantee {
    /** No order asked; corosync 3 delivers in agreed order anyway. */
    UNORDERED(0),
    /** Each sender's messages in the order sent; corosync 3 delivers in agreed order anyway. */
    FIFO(1),
    /** Total order: every member delivers the group's messages in the same order. */
    AGREED(2),
    /** Delivered only once every member has it; not implemented: corosync 3 delivers in agreed order. */
    SAFE(3);

    private final int code;

    Guarantee(int code) {
        this.code = code;
    }

    /** {@return the numeric {@code cpg_guarantee_t} value} */
    public int code() {
        return code;
    }
}
