package dev.ferry.node.data;

import dev.ferry.proto.ingest.Ack;
import dev.ferry.proto.ingest.IngestGrpc;
import dev.ferry.proto.ingest.WriteError;
import dev.ferry.proto.ingest.WriteRequest;
import dev.ferry.proto.ingest.WriteResponse;
import io.grpc.Status;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.function.LongSupplier;
import java.util.function.Supplier;

/**
 * The Ingest service: one bidirectional stream per primary connection. Each write is answered
 * on the stream (in completion order, keyed by client_seq) with its sequence number or an error;
 * one bad write never ends the stream. Inbound flow control is manual: see {@link InflightWindow}.
 */
public final class IngestService extends IngestGrpc.IngestImplBase {
  private final DataPlane data;
  private final InflightWindow window;
  private final long streamWindowBytes;
  private final LongSupplier assignmentVersion;

  private final WriteOutcomes outcomes;
  private final LongSupplier nanoTime;
  /** Empty while the node can take writes, else why not (it is starting). */
  private volatile Supplier<Optional<String>> notReady = Optional::empty;

  public IngestService(DataPlane data, long streamWindowBytes, long nodeWindowBytes,
      LongSupplier assignmentVersion) {
    this(data, streamWindowBytes, nodeWindowBytes, assignmentVersion, WriteOutcomes.NONE,
        System::nanoTime);
  }

  /** As above, telling {@code outcomes} what each write was answered, timed by {@code nanoTime}. */
  public IngestService(DataPlane data, long streamWindowBytes, long nodeWindowBytes,
      LongSupplier assignmentVersion, WriteOutcomes outcomes, LongSupplier nanoTime) {
    this.data = data;
    this.window = new InflightWindow(nodeWindowBytes);
    this.streamWindowBytes = streamWindowBytes;
    this.assignmentVersion = assignmentVersion;
    this.outcomes = outcomes;
    this.nanoTime = nanoTime;
  }

  /**
   * Answers every write {@code UNAVAILABLE} with the reason while {@code notReady} gives one: a
   * node that has not loaded its control state would otherwise answer from an empty or old state
   * ({@code NOT_FOUND} for a volume that exists: a final error for a valid write).
   */
  public IngestService whileNotReady(Supplier<Optional<String>> notReady) {
    this.notReady = notReady;
    return this;
  }

  @Override
  public StreamObserver<WriteRequest> write(StreamObserver<WriteResponse> responses) {
    ServerCallStreamObserver<WriteResponse> call = (ServerCallStreamObserver<WriteResponse>) responses;
    call.disableAutoRequest();
    InflightWindow.Stream stream = window.new Stream(streamWindowBytes, () -> call.request(1));
    call.request(1);
    return new StreamObserver<>() {
      private int pending;
      private boolean halfClosed;

      @Override
      public void onNext(WriteRequest w) {
        long size = w.getData().size();
        synchronized (this) {
          pending++;
        }
        stream.received(size);
        long received = nanoTime.getAsLong();
        Optional<String> starting = notReady.get();
        CompletableFuture<SequenceNumber> written = starting.isPresent()
            ? CompletableFuture.failedFuture(
                Status.UNAVAILABLE.withDescription(starting.get()).asException())
            : data.write(w.getPrimaryId(), w.getClientSeq(), w.getVolume(), w.getOffset(),
                w.getData(), w.getCrc32C());
        written.whenComplete((seq, error) -> {
              WriteResponse.Builder r = WriteResponse.newBuilder().setClientSeq(w.getClientSeq());
              if (error == null) {
                r.setAck(Ack.newBuilder().setEpoch(seq.epoch()).setN(seq.n()));
                outcomes.acked(nanoTime.getAsLong() - received);
              } else {
                Status s = Failures.forPrimary(error);
                outcomes.failed(s.getCode());
                r.setError(WriteError.newBuilder().setCode(s.getCode().value())
                    .setMessage(Failures.message(s))
                    .setAssignmentVersion(assignmentVersion.getAsLong()));
              }
              answer(r.build());
              stream.answered(size);
            });
      }

      private void answer(WriteResponse r) {
        boolean finish;
        synchronized (this) {
          pending--;
          finish = halfClosed && pending == 0;
          if (!call.isCancelled()) {
            call.onNext(r);
          }
          if (finish && !call.isCancelled()) {
            call.onCompleted();
          }
        }
      }

      @Override
      public void onError(Throwable t) {
        stream.closed();
      }

      @Override
      public void onCompleted() {
        synchronized (this) {
          halfClosed = true;
          if (pending == 0) {
            call.onCompleted();
          }
        }
        stream.closed();
      }
    };
  }
}
