package org.jcpg;

/**
 * Run by {@link MissingLibraryTest} in a child JVM where libcpg.so.4 cannot
 * be loaded: prints what open() throws, twice, and that the pure-Java parts
 * still work. One line per fact: {@code NAME ...}, {@code THROWN i CLASS MESSAGE}
 * or {@code OPENED i}, then {@code DONE}.
 */
public final class MissingLibraryMain {
    private MissingLibraryMain() {
    }

    private static String oneLine(Object text) {
        return String.valueOf(text).replace('\n', ' ').replace('\r', ' ');
    }

    public static void main(String[] args) {
        GroupName name = GroupName.of("x");
        System.out.println("NAME " + oneLine(name) + " " + name.length() + " " + name.equals(GroupName.of("x")));
        for (int i = 1; i <= 2; i++) {
            try {
                CpgConnection cpg = CpgConnection.open(new CpgListener() { });
                System.out.println("OPENED " + i);
                cpg.close();
            } catch (Throwable t) {
                System.out.println("THROWN " + i + " " + t.getClass().getName() + " " + oneLine(t.getMessage()));
                for (Throwable cause = t.getCause(); cause != null; cause = cause.getCause()) {
                    System.out.println("CAUSE " + i + " " + cause.getClass().getName() + " " + oneLine(cause.getMessage()));
                }
            }
        }
        GroupName after = GroupName.of("after");
        System.out.println("NAME " + oneLine(after) + " " + after.length() + " " + after.equals(GroupName.of("after")));
        System.out.println("DONE");
        System.out.flush();
    }
}
