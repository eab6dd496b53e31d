/**
 * jcpg: the corosync Closed Process Group (CPG) API for Java, on the
 * Foreign Function and Memory API.
 *
 * <p>Only {@code org.jcpg} is exported; the jextract stubs and the native
 * plumbing stay inside the module. jcpg calls native code, so grant it
 * native access: {@code --enable-native-access=org.jcpg} on the module path
 * (the jar's manifest grants {@code ALL-UNNAMED} for class-path use).
 */
module org.jcpg {
    exports org.jcpg;
    exports org.jcpg.bundling;
}
