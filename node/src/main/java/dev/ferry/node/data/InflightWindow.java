package dev.ferry.node.data;

import java.util.ArrayDeque;
import java.util.Deque;

/**
 * Bounds the bytes of unacknowledged primary writes: per stream and for the whole node. A stream
 * asks gRPC for its next message only while both bounds have room (manual inbound flow
 * control), so a node's memory stays bounded whatever the primaries send.
 *
 * <p>Thread-safe: every method holds the node window's lock.
 */
final class InflightWindow {
  private final long nodeLimit;
  private long nodeBytes;
  private final Deque<Stream> waiting = new ArrayDeque<>();

  InflightWindow(long nodeLimit) {
    this.nodeLimit = nodeLimit;
  }

  /** One primary stream's share; {@code request} asks gRPC for one more message. */
  final class Stream {
    private final long limit;
    private final Runnable request;
    private long bytes;

    Stream(long limit, Runnable request) {
      this.limit = limit;
      this.request = request;
    }

    /** A message of {@code size} bytes arrived: count it, and ask for the next if there is room. */
    void received(long size) {
      boolean more;
      synchronized (InflightWindow.this) {
        bytes += size;
        nodeBytes += size;
        more = hasRoom();
        if (!more) {
          waiting.add(this);
        }
      }
      if (more) {
        request.run();
      }
    }

    /** A message was answered: release its bytes and wake streams that now have room. */
    void answered(long size) {
      java.util.List<Stream> resume = new java.util.ArrayList<>();
      synchronized (InflightWindow.this) {
        bytes -= size;
        nodeBytes -= size;
        for (var it = waiting.iterator(); it.hasNext(); ) {
          Stream s = it.next();
          if (s.hasRoom()) {
            it.remove();
            resume.add(s);
          }
        }
      }
      resume.forEach(s -> s.request.run());
    }

    /**
     * The stream ended: it asks for nothing more. Its writes still in flight give their bytes
     * back through {@link #answered} when they complete.
     */
    void closed() {
      synchronized (InflightWindow.this) {
        waiting.remove(this);
      }
    }

    private boolean hasRoom() {
      return bytes < limit && nodeBytes < nodeLimit;
    }
  }

  synchronized long nodeBytes() {
    return nodeBytes;
  }
}
