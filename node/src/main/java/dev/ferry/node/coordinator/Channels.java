package dev.ferry.node.coordinator;

import com.google.common.net.HostAndPort;
import io.grpc.ManagedChannel;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import java.util.HashMap;
import java.util.Map;

/**
 * Plaintext channels by address, opened on first use and kept. Not thread-safe: each
 * coordinator thread owns its own.
 */
final class Channels implements AutoCloseable {
  private final Map<String, ManagedChannel> byAddress = new HashMap<>();

  /** The channel to {@code address}, reconnecting now if its last attempt failed (Reconnect). */
  ManagedChannel to(String address) {
    return dev.ferry.client.Reconnect.now(byAddress.computeIfAbsent(address, a -> {
      HostAndPort hp = HostAndPort.fromString(a);
      // Seal replies grow with the portions (ControlLimits)
      return NettyChannelBuilder.forAddress(hp.getHost(), hp.getPort()).usePlaintext()
          .maxInboundMessageSize(dev.ferry.control.ControlLimits.MAX_PEER_MESSAGE_BYTES).build();
    }));
  }

  @Override
  public void close() {
    byAddress.values().forEach(ManagedChannel::shutdownNow);
    byAddress.clear();
  }
}
