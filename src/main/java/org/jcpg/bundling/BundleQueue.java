package org.jcpg.bundling;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.LockSupport;
import java.util.concurrent.locks.ReentrantLock;

/**
 * The sending side of bundling: a bounded FIFO of bundles (frames of
 * {@link BundleFrame}) and the one flusher that hands them to libcpg.
 *
 * <p>Whoever appends while nobody flushes becomes the flusher and sends at
 * once, on its own thread: at low load a message goes out as a bundle of
 * one with no added delay. A bundle counts as in flight from the moment
 * libcpg took it until the receiver on the same connection reports it
 * delivered ({@link #selfDelivered}); while {@code window} bundles are in
 * flight, or another thread is sending, or the daemon refuses (TRY_AGAIN),
 * new messages join the bundle being filled. So under load the bundles
 * grow instead of the daemon's queue (cpg_mcast_joined returns as soon as
 * the message is in libqb's ring, long before the daemon has ordered it:
 * without the window a fast sender would fill the ring with bundles of one).
 * The window holds back only a bundle that can still grow: one with
 * another queued behind it is full and goes as soon as libcpg takes it
 * ({@link #heldByWindow}). It applies only once a delivery was reported (a
 * sender whose connection has no {@code BundlingReceiver} never waits for
 * one), and a bundle waits for it at most the maximum delay.
 *
 * <p>An application thread sends a few bundles at most and then, like
 * after a refusal or on a full window, hands the flusher role to this
 * queue's own thread, which retries with pauses growing from 10
 * microseconds to the maximum delay. One flusher at a time, in queue order,
 * keeps the bundles (and so every message) in the order they were
 * appended. A bundle's buffer is not touched by appenders while it is being
 * sent ({@link Bundle#inFlight}); after a refusal it is open again, and the
 * bundles queued behind it are merged into it when they fit.
 *
 * <p>Frames live in native memory, one shared arena per bundle, and the
 * transport gets the frame itself: {@code cpg_mcast_joined} reads it in
 * place, so a message is copied once here (into the frame) and once by
 * libcpg (into its request ring), with no staging copy in between. Not a
 * {@code cpg_zcb} buffer, although that would save libcpg's copy: in
 * corosync 3.1.7 {@code cpg_zcb_mcast_joined} waits for the daemon's reply,
 * a round trip per bundle under the connection's IPC lock instead of a
 * write into libqb's ring (the C benchmark measured zero-copy sends slower
 * than copied ones at every size up to 64 KiB); such a buffer can only be
 * freed by a call to the daemon, which may block; one sent just under 1 MiB
 * is lost silently; and newer corosync makes them plain malloc'd memory,
 * so the saved copy would not even last. A frame is freed only by whoever
 * holds it when it is no longer needed (see {@link #retire}): never while
 * an appender, the flusher or libcpg may still use it, even if
 * {@link #close} races with a send. Java code writes a frame through the
 * arena's segment, so a slip there would throw rather than touch freed
 * memory.
 */
final class BundleQueue {
    /** Sends one frame; false when the daemon asks to try again; throws when the connection failed. */
    @FunctionalInterface
    public interface Transport {
        boolean trySend(MemorySegment frame);
    }

    /** Counters, read under the lock. */
    public record Counts(long accepted, long sent, long bundles, long refused, long tryAgain, long largestBundle,
                         long queuedBytes) {
    }

    private static final System.Logger LOG = System.getLogger("org.jcpg.Bundling");
    private static final AtomicInteger SERIAL = new AtomicInteger();
    private static final long FIRST_PAUSE = 10_000;
    /** Bundles an application thread sends before it hands the flusher role to the queue's thread. */
    private static final int INLINE_ROUNDS = 4;
    /** Empty frames kept for the next bundles; more are freed. */
    private static final int SPARES = 4;

    private enum Outcome { EMPTY, SENT, REFUSED, WINDOW_FULL }

    /**
     * One frame. Appenders write it under the queue's lock, the flusher
     * writes its header and hands it over outside the lock while
     * {@link #inFlight}; nobody else touches it then.
     */
    private static final class Bundle {
        /** Shared: written by any appending thread, sent from whichever thread holds the flusher role. */
        private final Arena arena;
        final MemorySegment frame;
        /**
         * The same memory as a segment of the global scope, for libcpg alone:
         * what a send reads in place (a shared arena's segment would be copied
         * to staging memory first, since another thread could close it
         * meanwhile; here the queue's protocol rules that out).
         */
        final MemorySegment wire;
        long length = BundleFrame.HEADER_BYTES;
        int count;
        boolean inFlight;

        Bundle(long capacity) {
            arena = Arena.ofShared();
            frame = arena.allocate(capacity, Long.BYTES);
            wire = MemorySegment.ofAddress(frame.address()).reinterpret(capacity);
        }

        boolean fits(long bytes) {
            return length + bytes <= frame.byteSize();
        }

        void free() {
            arena.close();
        }
    }

    private final Transport transport;
    private final long bundleBytes;
    private final long largestMessage;
    private final long capacity;
    private final long maxPauseNanos;
    private final ReentrantLock lock = new ReentrantLock();
    private final Condition space = lock.newCondition();
    private final Condition idle = lock.newCondition();
    private final Condition work = lock.newCondition();
    private final Condition windowOpen = lock.newCondition();
    private final int window;
    private final ArrayDeque<Bundle> pending = new ArrayDeque<>();
    private final ArrayDeque<Bundle> spare = new ArrayDeque<>();
    /** Frames no longer used by anyone, to be freed once the lock is released (see {@link #retire}). */
    private List<Bundle> retired = new ArrayList<>();
    /** Frames allocated and not yet freed. */
    private final AtomicInteger liveFrames = new AtomicInteger();
    private final Thread flusher;
    private long queued;
    private boolean flushing;
    private boolean handedOver;
    private boolean closed;
    private RuntimeException failure;
    /** Own bundles handed to libcpg and not yet delivered back ({@link #selfDelivered}). */
    private int inFlight;
    /** Whether deliveries of own bundles are reported: only then does the window apply. */
    private boolean wired;
    private long accepted;
    private long sent;
    private long bundles;
    private long refused;
    private long tryAgain;
    private long largestBundle;

    /**
     * @param bundleBytes    the largest bundle, frame included, for ordinary messages
     * @param largestMessage the largest message accepted; one that does not fit a bundle of
     *                       {@code bundleBytes} goes alone in a bundle of its own size
     * @param capacity       the most bytes (frames included) queued at once; a message that
     *                       alone exceeds it is still accepted into an empty queue
     */
    public BundleQueue(String name, Transport transport, long bundleBytes, long largestMessage, long capacity,
                       long maxPauseNanos, int window) {
        this.transport = transport;
        this.window = window;
        this.bundleBytes = bundleBytes;
        this.largestMessage = largestMessage;
        this.capacity = capacity;
        this.maxPauseNanos = Math.max(maxPauseNanos, FIRST_PAUSE);
        this.flusher = Thread.ofPlatform().daemon().name(name + "-flusher-" + SERIAL.incrementAndGet())
                .unstarted(this::flusherLoop);
        flusher.start();
    }

    /**
     * Appends one message, waiting up to {@code timeoutNanos} (0: not at all)
     * for room in the queue.
     *
     * @return false if the queue stayed full
     * @throws IllegalArgumentException if the message is larger than the largest accepted
     * @throws IllegalStateException    if closed, or if an earlier send failed
     */
    public boolean offer(MemorySegment message, long timeoutNanos) throws InterruptedException {
        long size = message.byteSize();
        if (size > largestMessage) {
            throw new IllegalArgumentException("a message of " + size + " bytes; a bundled message holds at most "
                    + largestMessage);
        }
        long need = BundleFrame.LENGTH_BYTES + size;
        boolean flushHere = false;
        List<Bundle> doomed = null;
        lock.lockInterruptibly();
        try {
            long nanos = timeoutNanos;
            while (true) {
                checkUsable();
                if (queued == 0 || queued + need + BundleFrame.HEADER_BYTES <= capacity) {
                    break;
                }
                if (nanos <= 0) {
                    refused++;
                    return false;
                }
                nanos = space.awaitNanos(nanos);
            }
            Bundle tail = pending.peekLast();
            boolean fresh = tail == null || tail.inFlight || !tail.fits(need);
            if (fresh) {
                tail = newBundle(BundleFrame.HEADER_BYTES + need);
            }
            try {
                tail.length = BundleFrame.append(tail.frame, tail.length, message);
            } catch (RuntimeException | Error unreadable) {
                // The message's memory failed (its arena closed, its file shrank): nothing was
                // queued; a bundle of none must not go out.
                if (fresh) {
                    recycle(tail);
                    doomed = takeRetired();
                }
                throw unreadable;
            }
            if (fresh) {
                pending.addLast(tail);
                queued += BundleFrame.HEADER_BYTES;
                if (pending.size() == 2) {
                    windowOpen.signal();   // the head is full now: the window no longer holds it
                }
            }
            tail.count++;
            queued += need;
            accepted++;
            if (!flushing) {
                flushing = true;
                flushHere = true;
            }
        } finally {
            lock.unlock();
            free(doomed);
        }
        if (flushHere) {
            flushInline();
        }
        return true;
    }

    /** Waits until everything appended so far was handed to libcpg; false at the timeout. */
    public boolean drain(long timeoutNanos) throws InterruptedException {
        lock.lockInterruptibly();
        try {
            long nanos = timeoutNanos;
            while (flushing || !pending.isEmpty()) {
                if (failure != null) {
                    throw failed();
                }
                if (nanos <= 0) {
                    return false;
                }
                nanos = idle.awaitNanos(nanos);
            }
            if (failure != null) {
                throw failed();
            }
            return true;
        } finally {
            lock.unlock();
        }
    }

    /**
     * Refuses new messages, waits up to {@code timeoutNanos} for the queue to
     * drain, then stops the flusher thread.
     *
     * @return how many accepted messages were not handed to libcpg (dropped)
     */
    public long close(long timeoutNanos) {
        lock.lock();
        try {
            if (closed) {
                return 0;
            }
            closed = true;
            space.signalAll();
        }
        finally {
            lock.unlock();
        }
        long dropped = 0;
        List<Bundle> doomed = null;
        try {
            drain(timeoutNanos);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (RuntimeException failed) {
            // Reported through counts below; close itself does not throw the send failure again.
        } finally {
            lock.lock();
            try {
                for (Bundle bundle : pending) {
                    if (!bundle.inFlight) {
                        dropped += bundle.count;
                        retire(bundle);
                    }
                    // else: its sender frees it once libcpg has returned (sendHead)
                }
                pending.clear();
                spare.forEach(this::retire);
                spare.clear();
                doomed = takeRetired();
                queued = 0;
                work.signalAll();
                idle.signalAll();
                windowOpen.signalAll();
            } finally {
                lock.unlock();
            }
            free(doomed);
            flusher.interrupt();
            if (Thread.currentThread() != flusher) {
                try {
                    flusher.join(1000);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }
        }
        return dropped;
    }

    /** {@return whether {@link #close} was called} */
    public boolean isClosed() {
        lock.lock();
        try {
            return closed;
        } finally {
            lock.unlock();
        }
    }

    public Counts counts() {
        lock.lock();
        try {
            return new Counts(accepted, sent, bundles, refused, tryAgain, largestBundle, queued);
        } finally {
            lock.unlock();
        }
    }

    // ---- flushing ---------------------------------------------------------

    private void flushInline() {
        for (int round = 0; round < INLINE_ROUNDS; round++) {
            Outcome outcome = sendHead(false);
            if (outcome == Outcome.EMPTY) {
                return;
            }
            if (outcome != Outcome.SENT) {
                break;
            }
        }
        handOver();
    }

    /** Gives the flusher role (held by the caller) to the queue's thread. */
    private void handOver() {
        lock.lock();
        try {
            handedOver = true;
            work.signal();
        } finally {
            lock.unlock();
        }
    }

    private void flusherLoop() {
        while (true) {
            lock.lock();
            try {
                while (!handedOver) {
                    if (closed && pending.isEmpty()) {
                        return;
                    }
                    work.await();
                }
                handedOver = false;
            } catch (InterruptedException e) {
                if (closed) {
                    return;
                }
                continue;
            } finally {
                lock.unlock();
            }
            long pause = FIRST_PAUSE;
            boolean force = false;
            Outcome outcome;
            try {
                while ((outcome = sendHead(force)) != Outcome.EMPTY) {
                    force = false;
                    if (outcome == Outcome.REFUSED) {
                        LockSupport.parkNanos(pause);
                        pause = Math.min(pause * 2, maxPauseNanos);
                        if (abandoned()) {
                            break;
                        }
                    } else if (outcome == Outcome.WINDOW_FULL) {
                        force = !awaitWindow();
                    } else {
                        pause = FIRST_PAUSE;
                    }
                }
            } catch (RuntimeException failed) {
                // recorded by sendHead; the application sees it on its next call
            }
        }
    }

    /**
     * Waits up to the maximum delay for one of the bundles in flight to be
     * delivered back; false if none was (the next bundle then goes anyway:
     * a lost delivery report must not stall the sender).
     */
    private boolean awaitWindow() {
        lock.lock();
        try {
            long left = maxPauseNanos;
            while (heldByWindow() && left > 0 && !closed) {
                left = windowOpen.awaitNanos(left);
            }
            return left > 0;
        } catch (InterruptedException e) {
            return false;
        } finally {
            lock.unlock();
        }
    }

    /**
     * One of this sender's bundles was delivered back to it. From the first
     * report on, at most {@code window} bundles are in flight: the next one
     * fills meanwhile, so at high load bundles grow instead of the daemon's
     * queue, and at low load nothing waits.
     */
    public void selfDelivered() {
        lock.lock();
        try {
            wired = true;
            if (inFlight > 0) {
                inFlight--;
            }
            windowOpen.signal();
        } finally {
            lock.unlock();
        }
    }

    /** After close: the pending bundles were dropped, stop retrying. */
    private boolean abandoned() {
        lock.lock();
        try {
            if (closed && pending.isEmpty()) {
                flushing = false;
                idle.signalAll();
                return true;
            }
            return false;
        } finally {
            lock.unlock();
        }
    }

    /**
     * Whether the head bundle waits for the window. Only a bundle that can
     * still grow does: one with another queued behind it is full (its
     * followers were merged into it as far as they fit), and holding it back
     * would only starve the daemon. corosync needs a deep queue to work
     * efficiently: with 8 KiB messages (7 to a bundle) a window on full
     * bundles cost it 1.3-1.5 times the CPU per message of plain sends, and
     * made bundled sending slower than plain. Under the lock.
     */
    private boolean heldByWindow() {
        return wired && inFlight >= window && pending.size() <= 1;
    }

    /**
     * One attempt to send the head bundle; only the holder of the flusher
     * role calls it. Unless {@code force}, a full window of bundles in flight
     * makes it wait (WINDOW_FULL).
     */
    private Outcome sendHead(boolean force) {
        Bundle head;
        List<Bundle> doomed = null;
        lock.lock();
        try {
            head = pending.peekFirst();
            if (head == null || failure != null) {
                flushing = false;
                idle.signalAll();
                return Outcome.EMPTY;
            }
            mergeFollowers(head);
            if (!force && heldByWindow()) {
                return Outcome.WINDOW_FULL;
            }
            head.inFlight = true;
            doomed = takeRetired();
        } finally {
            lock.unlock();
            free(doomed);
        }
        BundleFrame.writeHeader(head.frame, head.count);
        boolean ok;
        try {
            ok = transport.trySend(head.wire.asSlice(0, head.length));
        } catch (RuntimeException | Error e) {
            lock.lock();
            try {
                head.inFlight = false;
                if (closed && pending.peekFirst() != head) {
                    retire(head);
                }
                fail(e instanceof RuntimeException runtime ? runtime : new IllegalStateException(e));
                doomed = takeRetired();
            } finally {
                lock.unlock();
                free(doomed);
            }
            throw e;
        }
        lock.lock();
        try {
            head.inFlight = false;
            if (ok) {
                inFlight++;
                // close() may have dropped the queue while this bundle was on its way.
                if (pending.peekFirst() == head) {
                    pending.removeFirst();
                    queued -= head.length;
                }
                sent += head.count;
                bundles++;
                largestBundle = Math.max(largestBundle, head.length);
                recycle(head);
                space.signalAll();
                return Outcome.SENT;
            }
            if (closed && pending.peekFirst() != head) {
                retire(head);   // close() dropped it meanwhile
            }
            tryAgain++;
            return Outcome.REFUSED;
        } finally {
            doomed = takeRetired();
            lock.unlock();
            free(doomed);
        }
    }

    /** Moves the messages of the bundles behind {@code head} into it, while they fit. Under the lock. */
    private void mergeFollowers(Bundle head) {
        while (pending.size() > 1) {
            var it = pending.iterator();
            it.next();
            Bundle next = it.next();
            long body = next.length - BundleFrame.HEADER_BYTES;
            if (!head.fits(body)) {
                return;
            }
            MemorySegment.copy(next.frame, BundleFrame.HEADER_BYTES, head.frame, head.length, body);
            head.length += body;
            head.count += next.count;
            queued -= BundleFrame.HEADER_BYTES;
            it.remove();
            recycle(next);
        }
    }

    private void fail(RuntimeException cause) {
        lock.lock();
        try {
            if (failure == null) {
                failure = cause;
                long lost = 0;
                for (Bundle bundle : pending) {
                    lost += bundle.count;
                }
                LOG.log(System.Logger.Level.WARNING, "bundled send failed; " + lost
                        + " accepted messages were not sent: " + cause);
            }
            flushing = false;
            space.signalAll();
            idle.signalAll();
        } finally {
            lock.unlock();
        }
    }

    private void checkUsable() {
        if (failure != null) {
            throw failed();
        }
        if (closed) {
            throw new IllegalStateException("the bundling sender is closed");
        }
    }

    private IllegalStateException failed() {
        long lost = 0;
        for (Bundle bundle : pending) {
            lost += bundle.count;
        }
        return new IllegalStateException("an earlier bundled send failed (" + lost
                + " accepted messages were not sent): " + failure.getMessage(), failure);
    }

    private Bundle newBundle(long atLeast) {
        if (atLeast <= bundleBytes) {
            Bundle recycled = spare.pollFirst();
            if (recycled != null) {
                return recycled;
            }
            atLeast = bundleBytes;
        }
        Bundle fresh = new Bundle(atLeast);
        liveFrames.incrementAndGet();
        return fresh;
    }

    /** A bundle that was sent, merged or never used: kept for reuse, or retired. Under the lock. */
    private void recycle(Bundle bundle) {
        if (!closed && bundle.frame.byteSize() == bundleBytes && spare.size() < SPARES) {
            bundle.length = BundleFrame.HEADER_BYTES;
            bundle.count = 0;
            spare.addFirst(bundle);
        } else {
            retire(bundle);
        }
    }

    /**
     * Marks a frame to be freed: only for one that nobody uses any more (not
     * queued, not a spare, not being sent), so that freeing it cannot pull
     * memory from under an appender, the flusher or libcpg. Under the lock;
     * {@link #free} closes the arenas after unlocking, because closing a shared
     * arena waits for a handshake with every thread.
     */
    private void retire(Bundle bundle) {
        retired.add(bundle);
    }

    /** Under the lock: the retired frames, for {@link #free} after unlocking; null if none. */
    private List<Bundle> takeRetired() {
        if (retired.isEmpty()) {
            return null;
        }
        List<Bundle> taken = retired;
        retired = new ArrayList<>();
        return taken;
    }

    private void free(List<Bundle> doomed) {
        if (doomed != null) {
            for (Bundle bundle : doomed) {
                bundle.free();
                liveFrames.decrementAndGet();
            }
        }
    }

    /** How many frames of native memory this queue holds now (queued, spare or being sent). */
    public int liveFrames() {
        return liveFrames.get();
    }

    /** For tests: whether the flusher thread still runs. */
    public boolean flusherAlive() {
        return flusher.isAlive();
    }

}
