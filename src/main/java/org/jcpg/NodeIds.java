package org.jcpg;

final class NodeIds {
    private NodeIds() {
    }

    static void check(long nodeId) {
        if (nodeId < 0 || nodeId > 0xFFFF_FFFFL) {
            throw new IllegalArgumentException("node id " + nodeId + " is not an unsigned 32-bit value");
        }
    }
}
