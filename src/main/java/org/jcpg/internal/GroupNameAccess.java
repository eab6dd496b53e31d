package org.jcpg.internal;

import org.jcpg.GroupName;

/**
 * Access to {@link GroupName} beyond its public API, for the marshalling
 * code: wrap a name read from the daemon (which may be empty, unlike one a
 * user makes) and read a name's bytes without copying them.
 *
 * <p>{@code CpgConnection}, a facade, installs it when it is initialized
 * (the value type itself names nothing of the internal layer, so that no
 * import cycle joins the layers).
 */
public final class GroupNameAccess {
    /** Implemented by the facade, with {@link GroupName}'s package-private methods. */
    public interface Names {
        /** A name that takes ownership of {@code owned}, which may be empty. */
        GroupName wrap(byte[] owned);

        /** The name's bytes, not a copy: never modify them. */
        byte[] bytes(GroupName name);
    }

    // Named, not referenced: the internal layer does not depend on the facades.
    private static final String INSTALLER = "org.jcpg.CpgConnection";

    private static volatile Names names;

    private GroupNameAccess() {
    }

    /** Called once, by the facade's static initializer. */
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
                // Runs the facade's static initializer, which installs it (code that
                // reaches the internal layer without a connection, such as a unit test).
                Class.forName(INSTALLER, true, GroupNameAccess.class.getClassLoader());
            } catch (ClassNotFoundException impossible) {
                throw new AssertionError(impossible);
            }
            access = names;
        }
        return access;
    }
}
