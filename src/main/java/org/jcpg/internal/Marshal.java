package org.jcpg.internal;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;

import java.lang.foreign.MemorySegment;
import java.util.List;
import org.jcpg.GroupMember;
import org.jcpg.GroupName;
import org.jcpg.Member;
import org.jcpg.Reason;
import org.jcpg.internal.stubs.cpg_address;
import org.jcpg.internal.stubs.cpg_iteration_description_t;
import org.jcpg.internal.stubs.cpg_name;

/**
 * Conversions between libcpg's structs and jcpg's values. Names are
 * length-delimited bytes, never assumed NUL-terminated; a length the
 * daemon reports outside 0..128 is clamped rather than trusted.
 */
final class Marshal {
    static final long NAME_SIZE = cpg_name.sizeof();
    static final long ADDRESS_SIZE = cpg_address.sizeof();
    /** All of memory: for reading, at addresses libcpg handed to a callback, what it vouches for. */
    private static final MemorySegment EVERYWHERE = MemorySegment.NULL.reinterpret(Long.MAX_VALUE);

    private Marshal() {
    }

    /** Writes {@code group} into the {@code struct cpg_name} at {@code target}. */
    static MemorySegment writeName(GroupName group, MemorySegment target) {
        byte[] bytes = GroupNameAccess.bytes(group);
        cpg_name.length(target, bytes.length);
        MemorySegment.copy(bytes, 0, target, JAVA_BYTE, 4, bytes.length);
        return target;
    }

    static int nameLength(MemorySegment name) {
        return Math.clamp(cpg_name.length(name), 0, GroupName.MAX_LENGTH);
    }

    static GroupName readName(MemorySegment nativeName) {
        MemorySegment name = nativeName.reinterpret(NAME_SIZE);
        byte[] bytes = new byte[nameLength(name)];
        MemorySegment.copy(name, JAVA_BYTE, 4, bytes, 0, bytes.length);
        return GroupNameAccess.wrap(bytes);
    }

    static GroupName readName(long nativeName) {
        return readName(MemorySegment.ofAddress(nativeName));
    }

    /**
     * Whether the native name at this address has exactly these bytes. Per
     * delivered message, so it reads through {@link #EVERYWHERE} rather than
     * make a segment for the name.
     */
    static boolean nameEquals(long nativeName, GroupName group) {
        byte[] bytes = GroupNameAccess.bytes(group);
        if (Math.clamp(EVERYWHERE.get(JAVA_INT, nativeName), 0, GroupName.MAX_LENGTH) != bytes.length) {
            return false;
        }
        for (int i = 0; i < bytes.length; i++) {
            if (EVERYWHERE.get(JAVA_BYTE, nativeName + 4 + i) != bytes[i]) {
                return false;
            }
        }
        return true;
    }

    /** A heap copy of {@code length} native bytes at {@code address}. */
    static byte[] bytesAt(long address, long length) {
        return MemorySegment.ofAddress(address).reinterpret(length).toArray(JAVA_BYTE);
    }

    static List<Member> readMembers(MemorySegment list, long count) {
        if (count <= 0) {
            return List.of();
        }
        MemorySegment entries = list.reinterpret(count * ADDRESS_SIZE);
        Member[] members = new Member[(int) count];
        for (int i = 0; i < count; i++) {
            MemorySegment entry = cpg_address.asSlice(entries, i);
            members[i] = new Member(Integer.toUnsignedLong(cpg_address.nodeid(entry)), cpg_address.pid(entry),
                    Reason.of(cpg_address.reason(entry)));
        }
        return List.of(members);
    }

    static GroupMember readGroupMember(MemorySegment description) {
        return new GroupMember(readName(cpg_iteration_description_t.group(description)),
                Integer.toUnsignedLong(cpg_iteration_description_t.nodeid(description)),
                cpg_iteration_description_t.pid(description));
    }

    static List<Long> readNodeIds(MemorySegment ids, int count) {
        long n = Integer.toUnsignedLong(count);
        MemorySegment all = ids.reinterpret(n * Integer.BYTES);
        Long[] nodeIds = new Long[(int) n];
        for (int i = 0; i < n; i++) {
            nodeIds[i] = Integer.toUnsignedLong(all.getAtIndex(JAVA_INT, i));
        }
        return List.of(nodeIds);
    }
}
