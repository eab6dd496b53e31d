package org.jcpg.internal;

import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import org.jcpg.GroupName;

/**
 * Access to {@link GroupName} beyond its public API, for the marshalling
 * code: wrap a name read from the daemon (which may be empty, unlike one a
 * user makes: a C peer can join the empty group) and read a name's bytes
 * without copying them, per delivered message.
 *
 * <p>Through a private lookup into the vocabulary's package, which the
 * module grants itself: the dependency points from the internal layer to
 * the vocabulary, as every other one does, names the class it uses (no
 * class loaded by its name), and needs no facade to install anything first.
 */
final class GroupNameAccess {
    private static final MethodHandle WRAP;
    private static final MethodHandle BYTES;

    static {
        try {
            MethodHandles.Lookup lookup = MethodHandles.privateLookupIn(GroupName.class, MethodHandles.lookup());
            WRAP = lookup.findStatic(GroupName.class, "wrapOwned", MethodType.methodType(GroupName.class, byte[].class));
            BYTES = lookup.findStatic(GroupName.class, "bytesOf", MethodType.methodType(byte[].class, GroupName.class));
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    private GroupNameAccess() {
    }

    /** A name that takes ownership of {@code owned}, which may be empty. */
    static GroupName wrap(byte[] owned) {
        try {
            return (GroupName) WRAP.invokeExact(owned);
        } catch (Throwable t) {
            throw Libc.unexpected(t);
        }
    }

    /** The name's bytes, not a copy: never modify them. */
    static byte[] bytes(GroupName name) {
        try {
            return (byte[]) BYTES.invokeExact(name);
        } catch (Throwable t) {
            throw Libc.unexpected(t);
        }
    }
}
