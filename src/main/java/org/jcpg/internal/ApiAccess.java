package org.jcpg.internal;

import org.jcpg.GroupName;

/**
 * What the internal layer may do with the public types beyond their public
 * API: wrap a name read from the daemon (which may be empty, unlike one a
 * user makes) and read a name's bytes without copying them. The public
 * class installs it when it is initialized.
 */
public final class ApiAccess {
    /** Implemented by {@link GroupName}. */
    public interface Names {
        /** A name that takes ownership of {@code owned}, which may be empty. */
        GroupName wrap(byte[] owned);

        /** The name's bytes, not a copy: never modify them. */
        byte[] bytes(GroupName name);
    }

    private static volatile Names names;

    private ApiAccess() {
    }

    /** Called once, by {@link GroupName}'s static initializer. */
    public static void install(Names access) {
        if (names != null) {
            throw new IllegalStateException("already installed");
        }
        names = access;
    }

    static Names names() {
        Names access = names;
        if (access == null) {
            try {
                // Runs GroupName's static initializer, which installs it.
                Class.forName(GroupName.class.getName(), true, GroupName.class.getClassLoader());
            } catch (ClassNotFoundException impossible) {
                throw new AssertionError(impossible);
            }
            access = names;
        }
        return access;
    }
}
