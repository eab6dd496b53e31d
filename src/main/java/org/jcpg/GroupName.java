package org.jcpg;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;

/**
 * The name of a closed process group: 1 to {@value #MAX_LENGTH} bytes,
 * compared byte for byte.
 *
 * <p>CPG names are length-delimited bytes, not C strings. Peers written in
 * C often count the terminating NUL: corosync's {@code testcpg} joins
 * "GROUP" as the 6 bytes {@code GROUP\0}, which is a different group from
 * {@code GroupName.of("GROUP")} (5 bytes). To meet such a peer, name the
 * group by its exact bytes with {@link #ofBytes(byte[])}.
 */
public final class GroupName {
    /** The longest name corosync accepts, in bytes ({@code CPG_MAX_NAME_LENGTH}). */
    public static final int MAX_LENGTH = 128;

    private final byte[] bytes;

    private GroupName(byte[] bytes) {
        this.bytes = bytes;
    }

    /**
     * The group named by the UTF-8 bytes of {@code name}, with no trailing NUL.
     *
     * @throws IllegalArgumentException if {@code name} is null, empty or longer
     *                                  than {@value #MAX_LENGTH} bytes in UTF-8
     */
    public static GroupName of(String name) {
        if (name == null) {
            throw new IllegalArgumentException("group name is null");
        }
        return ofBytes(name.getBytes(StandardCharsets.UTF_8));
    }

    /**
     * The group named by exactly these bytes (copied).
     *
     * @throws IllegalArgumentException if {@code name} is null, empty or longer
     *                                  than {@value #MAX_LENGTH} bytes
     */
    public static GroupName ofBytes(byte[] name) {
        if (name == null) {
            throw new IllegalArgumentException("group name is null");
        }
        if (name.length == 0) {
            throw new IllegalArgumentException("group name is empty");
        }
        if (name.length > MAX_LENGTH) {
            throw new IllegalArgumentException(
                    "group name is " + name.length + " bytes; corosync allows at most " + MAX_LENGTH);
        }
        return new GroupName(name.clone());
    }

    /** Takes ownership of a name read from the daemon, which may be empty. */
    static GroupName wrapNative(byte[] name) {
        return new GroupName(name);
    }

    /** The name's bytes (a copy). */
    public byte[] toBytes() {
        return bytes.clone();
    }

    /** The length in bytes, as corosync counts it. */
    public int length() {
        return bytes.length;
    }

    byte[] bytesNoCopy() {
        return bytes;
    }

    /**
     * The name decoded as UTF-8, with a NUL byte shown as {@code \0} so that
     * {@code "GROUP\0"} and {@code "GROUP"} look as different as they are.
     */
    @Override
    public String toString() {
        return new String(bytes, StandardCharsets.UTF_8).replace("\0", "\\0");
    }

    @Override
    public boolean equals(Object other) {
        return other instanceof GroupName that && Arrays.equals(bytes, that.bytes);
    }

    @Override
    public int hashCode() {
        return Arrays.hashCode(bytes);
    }
}
