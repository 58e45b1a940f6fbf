package dev.ferry.node.data;

import io.grpc.Status;

/**
 * What the ingest answered primaries, for metrics. Called on gRPC and data-path threads, so an
 * implementation must be thread-safe.
 */
public interface WriteOutcomes {
  /** Counts nothing. */
  WriteOutcomes NONE = new WriteOutcomes() {
    @Override
    public void acked(long nanos) {}

    @Override
    public void failed(Status.Code code) {}
  };

  /** A write acknowledged {@code nanos} after it was received. */
  void acked(long nanos);

  /** A write answered with an error. */
  void failed(Status.Code code);
}
