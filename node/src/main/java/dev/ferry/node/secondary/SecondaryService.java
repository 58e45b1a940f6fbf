package dev.ferry.node.secondary;

import com.google.protobuf.ByteString;
import dev.ferry.control.Portion;
import dev.ferry.proto.secondary.CommitReply;
import dev.ferry.proto.secondary.CommitRequest;
import dev.ferry.proto.secondary.FailoverReply;
import dev.ferry.proto.secondary.FailoverRequest;
import dev.ferry.proto.secondary.PortionId;
import dev.ferry.proto.secondary.ReadReply;
import dev.ferry.proto.secondary.ReadRequest;
import dev.ferry.proto.secondary.SecondaryGrpc;
import dev.ferry.proto.secondary.StageReply;
import dev.ferry.proto.secondary.StageRequest;
import dev.ferry.proto.secondary.StatusReply;
import dev.ferry.proto.secondary.StatusRequest;
import io.grpc.Status;
import io.grpc.StatusException;
import io.grpc.stub.StreamObserver;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import org.apache.logging.log4j.LogManager;
import org.apache.logging.log4j.Logger;

/**
 * The Secondary service (secondary.proto) over one {@link SecondaryStore}.
 *
 * <p>Threading: one thread, {@code ferry-secondary-store}, owns the store; every call runs its
 * store work there, one at a time, so a Read or Status never sees an apply half done. A Stage
 * stream is collected and checked ({@link StageStream}) on the gRPC threads first; only a portion
 * that matches its watermark reaches the store thread.
 */
public final class SecondaryService extends SecondaryGrpc.SecondaryImplBase
    implements AutoCloseable {
  private static final Logger LOG = LogManager.getLogger(SecondaryService.class);

  /** Work for the store thread. */
  @FunctionalInterface
  private interface StoreCall<T> {
    T run(SecondaryStore store) throws StatusException, IOException;
  }

  private final SecondaryStore store;
  private final ExecutorService storeThread = Executors.newSingleThreadExecutor(r -> {
    Thread t = new Thread(r, "ferry-secondary-store");
    t.setDaemon(true);
    return t;
  });

  /** Takes ownership of store: it is closed with the service. */
  public SecondaryService(SecondaryStore store) {
    this.store = store;
  }

  @Override
  public StreamObserver<StageRequest> stage(StreamObserver<StageReply> responses) {
    return new StreamObserver<>() {
      private final StageStream portion = new StageStream();
      private boolean failed;

      @Override
      public void onNext(StageRequest r) {
        if (failed) {
          return; // answered already; the rest of the stream is dropped
        }
        try {
          portion.add(r);
        } catch (StatusException e) {
          failed = true;
          responses.onError(e);
        }
      }

      @Override
      public void onError(Throwable t) {
        failed = true; // the stager gave up: nothing is kept
      }

      @Override
      public void onCompleted() {
        if (failed) {
          return;
        }
        StagedPortion p;
        try {
          p = portion.finish();
        } catch (StatusException e) {
          responses.onError(e);
          return;
        }
        onStore(responses, s -> {
          s.stage(p);
          return StageReply.newBuilder().setCount(p.watermark().count())
              .setDigest(p.watermark().digest()).build();
        });
      }
    };
  }

  @Override
  public void commit(CommitRequest r, StreamObserver<CommitReply> responses) {
    List<Portion> expected = new ArrayList<>();
    for (PortionId id : r.getExpectedList()) {
      if (id.getRegion() < 0 || id.getRegion() > Integer.MAX_VALUE) {
        responses.onError(Status.INVALID_ARGUMENT.withDescription("expected region "
            + id.getRegion() + " of volume '" + id.getVolume() + "' is out of range")
            .asException());
        return;
      }
      expected.add(new Portion(id.getVolume(), (int) id.getRegion()));
    }
    onStore(responses, s -> CommitReply.newBuilder()
        .setAppliedEpoch(s.commit(r.getEpoch(), r.getClosedAtMillis(), expected)).build());
  }

  @Override
  public void status(StatusRequest r, StreamObserver<StatusReply> responses) {
    onStore(responses, s -> {
      SecondaryStore.State state = s.state();
      return StatusReply.newBuilder().setAppliedEpoch(state.appliedEpoch())
          .setAppliedClosedAtMillis(state.appliedClosedAtMillis())
          .addAllStagedEpochs(state.stagedEpochs()).setFailedOver(state.failedOver())
          .addAllVolumes(state.volumes()).build();
    });
  }

  @Override
  public void read(ReadRequest r, StreamObserver<ReadReply> responses) {
    onStore(responses, s -> ReadReply.newBuilder().setData(ByteString.copyFrom(
        s.read(r.getVolume(), r.getOffset(), r.getLength()))).build());
  }

  @Override
  public void failover(FailoverRequest r, StreamObserver<FailoverReply> responses) {
    onStore(responses, s -> {
      int discarded = s.failover();
      return FailoverReply.newBuilder().setAppliedEpoch(s.appliedEpoch())
          .setDiscardedEpochs(discarded).build();
    });
  }

  /** Runs call on the store thread and answers with its result or failure. */
  private <T> void onStore(StreamObserver<T> responses, StoreCall<T> call) {
    try {
      storeThread.execute(() -> {
        T reply;
        try {
          reply = call.run(store);
        } catch (StatusException e) {
          responses.onError(e);
          return;
        } catch (IOException e) {
          // a fatal one has been logged by the store already, with its stack trace
          LOG.warn("secondary store call failed: {}", e.getMessage());
          responses.onError(Status.INTERNAL.withDescription(e.getMessage()).asException());
          return;
        } catch (RuntimeException e) {
          LOG.error("secondary store call failed", e);
          responses.onError(Status.INTERNAL.withDescription(String.valueOf(e)).asException());
          return;
        }
        responses.onNext(reply);
        responses.onCompleted();
      });
    } catch (RejectedExecutionException e) {
      responses.onError(Status.UNAVAILABLE.withDescription("the secondary is shutting down")
          .asException());
    }
  }

  /** Lets queued calls finish, then closes the store. */
  @Override
  public void close() {
    storeThread.shutdown();
    try {
      if (storeThread.awaitTermination(30, TimeUnit.SECONDS)) {
        store.close();
      } else {
        // closing under a running apply could tear it; the next open redoes it instead
        LOG.warn("the secondary store thread did not finish in 30 s; store left open");
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } catch (IOException e) {
      LOG.warn("closing the secondary store", e);
    }
  }
}
