package org.jcpg.examples.kv;

import java.nio.BufferUnderflowException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * The two messages of the example, in a fixed binary layout (big-endian).
 *
 * <pre>
 * update:   'U' seq:long count:int { 'P' key value | 'R' key | 'A' key delta:long }*   strings: length:int UTF-8
 * snapshot: 'S' epoch:long index:int count:int length:int bytes          one chunk of Replica.serialize()
 * </pre>
 * The sender of either is the (node id, pid) corosync delivers with it: it is not in the payload.
 */
final class Wire {
    static final byte UPDATE = 'U';
    static final byte CHUNK = 'S';
    static final int CHUNK_HEADER = 1 + 8 + 4 + 4 + 4;

    sealed interface Decoded permits DecodedUpdate, DecodedChunk {
    }

    record DecodedUpdate(long seq, List<ReplicatedMap.Op> ops) implements Decoded {
    }

    record DecodedChunk(long epoch, int index, int count, byte[] data) implements Decoded {
    }

    private Wire() {
    }

    static int updateSize(List<ReplicatedMap.Op> ops) {
        int size = 1 + 8 + 4;
        for (ReplicatedMap.Op op : ops) {
            size += 1 + 4 + utf8Length(op.key());
            size += switch (op) {
                case ReplicatedMap.Op.Put put -> 4 + utf8Length(put.value());
                case ReplicatedMap.Op.Remove remove -> 0;
                case ReplicatedMap.Op.Add add -> 8;
            };
        }
        return size;
    }

    private static int utf8Length(String s) {
        return s.getBytes(StandardCharsets.UTF_8).length;
    }

    /** Writes an update at the buffer's position; the buffer must have {@link #updateSize} bytes left. */
    static void writeUpdate(ByteBuffer out, long seq, List<ReplicatedMap.Op> ops) {
        out.put(UPDATE).putLong(seq).putInt(ops.size());
        for (ReplicatedMap.Op op : ops) {
            switch (op) {
                case ReplicatedMap.Op.Put put -> {
                    out.put((byte) 'P');
                    putString(out, put.key());
                    putString(out, put.value());
                }
                case ReplicatedMap.Op.Remove remove -> {
                    out.put((byte) 'R');
                    putString(out, remove.key());
                }
                case ReplicatedMap.Op.Add add -> {
                    out.put((byte) 'A');
                    putString(out, add.key());
                    out.putLong(add.delta());
                }
            }
        }
    }

    static byte[] chunk(long epoch, int index, int count, byte[] snapshot, int from, int length) {
        ByteBuffer out = ByteBuffer.allocate(CHUNK_HEADER + length);
        out.put(CHUNK).putLong(epoch).putInt(index).putInt(count).putInt(length).put(snapshot, from, length);
        return out.array();
    }

    /** Decodes a delivered message; null if it is not one of ours (another program in the group). */
    static Decoded decode(byte[] message) {
        ByteBuffer in = ByteBuffer.wrap(message);
        try {
            if (message.length == 0) {
                return null;
            }
            Decoded decoded = switch (in.get()) {
                case UPDATE -> {
                    long seq = in.getLong();
                    int count = in.getInt();
                    if (count < 0 || count > in.remaining()) {
                        yield null;
                    }
                    List<ReplicatedMap.Op> ops = new ArrayList<>(count);
                    for (int i = 0; i < count; i++) {
                        byte kind = in.get();
                        String key = getString(in);
                        ops.add(switch (kind) {
                            case 'P' -> new ReplicatedMap.Op.Put(key, getString(in));
                            case 'R' -> new ReplicatedMap.Op.Remove(key);
                            case 'A' -> new ReplicatedMap.Op.Add(key, in.getLong());
                            default -> throw new IllegalArgumentException("unknown operation " + kind);
                        });
                    }
                    yield new DecodedUpdate(seq, List.copyOf(ops));
                }
                case CHUNK -> {
                    long epoch = in.getLong();
                    int index = in.getInt();
                    int count = in.getInt();
                    int length = in.getInt();
                    if (index < 0 || count <= index || length != in.remaining()) {
                        yield null;
                    }
                    byte[] data = new byte[length];
                    in.get(data);
                    yield new DecodedChunk(epoch, index, count, data);
                }
                default -> null;
            };
            return decoded != null && !in.hasRemaining() ? decoded : null;
        } catch (BufferUnderflowException | IllegalArgumentException malformed) {
            return null;
        }
    }

    private static void putString(ByteBuffer out, String s) {
        byte[] utf8 = s.getBytes(StandardCharsets.UTF_8);
        out.putInt(utf8.length).put(utf8);
    }

    private static String getString(ByteBuffer in) {
        int length = in.getInt();
        if (length < 0 || length > in.remaining()) {
            throw new IllegalArgumentException("bad string length " + length);
        }
        byte[] utf8 = new byte[length];
        in.get(utf8);
        return new String(utf8, StandardCharsets.UTF_8);
    }
}
