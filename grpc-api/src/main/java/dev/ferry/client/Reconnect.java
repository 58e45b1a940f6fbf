package dev.ferry.client;

import io.grpc.ConnectivityState;
import io.grpc.ManagedChannel;

/**
 * Cuts short gRPC's reconnect backoff for a channel whose last connection attempt failed.
 *
 * <p>Why: after a failed attempt gRPC waits before it connects again (1 s, growing 1.6 times per
 * failure up to 120 s) and fails calls at once meanwhile. A node or secondary that was down for
 * a few seconds and is back stays unreachable over an old channel for that long: the soak saw a
 * restarted member's Freeze and heartbeats refused ("UNAVAILABLE: io exception") by the leader's
 * old channel, and the member declared FAILED again right after it had rejoined. Ferry opens a
 * call or stream to a peer a few times a second at most, so trying to connect at each opening
 * costs little (a refused connection) and finds a restarted peer at once.
 */
public final class Reconnect {
  private Reconnect() {}

  /** The channel, told to connect again now if its last attempt failed. Any thread. */
  public static ManagedChannel now(ManagedChannel channel) {
    if (channel.getState(false) == ConnectivityState.TRANSIENT_FAILURE) {
      channel.resetConnectBackoff();
    }
    return channel;
  }
}
