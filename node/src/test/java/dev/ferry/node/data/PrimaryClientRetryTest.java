package dev.ferry.node.data;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import com.google.common.net.HostAndPort;
import dev.ferry.client.PrimaryClient;
import dev.ferry.proto.admin.AdminGrpc;
import dev.ferry.proto.admin.GetClusterStateRequest;
import dev.ferry.proto.control.ClusterStateSnapshot;
import dev.ferry.proto.control.Member;
import dev.ferry.proto.control.MemberState;
import dev.ferry.proto.control.Volume;
import dev.ferry.proto.control.VolumeAssignment;
import dev.ferry.proto.ingest.Ack;
import dev.ferry.proto.ingest.IngestGrpc;
import dev.ferry.proto.ingest.WriteError;
import dev.ferry.proto.ingest.WriteRequest;
import dev.ferry.proto.ingest.WriteResponse;
import io.grpc.Server;
import io.grpc.Status;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.grpc.stub.StreamObserver;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Retryable means retryable (issue 10, point 6, case 5): PrimaryClient against one fake node over
 * real gRPC whose Ingest answers scripted errors before it acknowledges. Fencing between nodes,
 * a node that has not loaded its state yet, and other transient errors are retried after the
 * assignment is read again; only errors of the write itself are final.
 */
class PrimaryClientRetryTest {
  private Server server;
  private String address;
  /** Errors the fake node answers, in order, before it acknowledges. */
  private final ConcurrentLinkedQueue<Status> script = new ConcurrentLinkedQueue<>();
  /** In the script: the fake node does not answer that write at all. */
  private static final Status SILENT = Status.OK.withDescription("silent");
  private final AtomicInteger stateReads = new AtomicInteger();
  private final AtomicInteger writesSeen = new AtomicInteger();
  private volatile boolean volumeExists = true;
  private volatile long version = 5;

  @BeforeEach
  void start() throws Exception {
    server = NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", 0))
        .addService(new AdminGrpc.AdminImplBase() {
          @Override
          public void getClusterState(GetClusterStateRequest r,
              StreamObserver<ClusterStateSnapshot> out) {
            stateReads.incrementAndGet();
            out.onNext(snapshot());
            out.onCompleted();
          }
        })
        .addService(new IngestGrpc.IngestImplBase() {
          @Override
          public StreamObserver<WriteRequest> write(StreamObserver<WriteResponse> out) {
            return new StreamObserver<>() {
              @Override
              public synchronized void onNext(WriteRequest w) {
                writesSeen.incrementAndGet();
                Status next = script.poll();
                if (next == SILENT) {
                  return; // held inside the node: never answered
                }
                WriteResponse.Builder r = WriteResponse.newBuilder().setClientSeq(w.getClientSeq());
                if (next == null) {
                  r.setAck(Ack.newBuilder().setEpoch(3).setN(writesSeen.get()));
                } else {
                  r.setError(WriteError.newBuilder().setCode(next.getCode().value())
                      .setMessage(next.getDescription()).setAssignmentVersion(version));
                }
                out.onNext(r.build());
              }

              @Override
              public void onError(Throwable t) {}

              @Override
              public synchronized void onCompleted() {
                out.onCompleted();
              }
            };
          }
        })
        .build().start();
    address = "127.0.0.1:" + server.getPort();
  }

  private ClusterStateSnapshot snapshot() {
    ClusterStateSnapshot.Builder b = ClusterStateSnapshot.newBuilder()
        .setAssignmentVersion(version)
        .addMembers(Member.newBuilder().setId("n1").setAddress(address)
            .setState(MemberState.ACTIVE).setIncarnation(1));
    if (volumeExists) {
      b.addVolumes(Volume.newBuilder().setName("v3").setSizeBytes(4 << 20)
          .setRegionSizeBytes(1 << 20));
      b.addAssignment(VolumeAssignment.newBuilder().setVolume("v3")
          .addAllOwner(List.of(1, 1, 1, 1)).addAllMirror(List.of(0, 0, 0, 0)));
    }
    return b.build();
  }

  @AfterEach
  void stop() {
    server.shutdownNow();
  }

  private PrimaryClient client(Duration retryFor) {
    return new PrimaryClient(List.of(HostAndPort.fromString(address)), "p", 4, retryFor);
  }

  private static Status status(Status.Code code, String message) {
    return Status.fromCode(code).withDescription(message);
  }

  @Test
  void fencingBetweenNodesIsRetriedAfterTheAssignmentIsReadAgain() throws Exception {
    try (PrimaryClient c = client(Duration.ofSeconds(10))) {
      int readsBefore = stateReads.get();
      script.add(status(Status.Code.FAILED_PRECONDITION,
          "stale assignment version 5; the current version is 6"));
      version = 6;
      PrimaryClient.WriteAck ack = c.write("v3", 4096, new byte[] {1}).get(10, TimeUnit.SECONDS);
      assertThat(ack.epoch()).isEqualTo(3);
      assertThat(writesSeen.get()).isEqualTo(2);
      assertThat(stateReads.get()).as("assignment read again before the retry")
          .isGreaterThan(readsBefore);
      assertThat(c.state().getAssignmentVersion()).isEqualTo(6L);
    }
  }

  @Test
  void aNodeThatSaysAnExistingVolumeDoesNotExistIsRetried() throws Exception {
    try (PrimaryClient c = client(Duration.ofSeconds(10))) {
      // a node restarted after kill -9 answers from its state before replaying its log
      script.add(status(Status.Code.NOT_FOUND, "volume 'v3' does not exist"));
      script.add(status(Status.Code.UNAVAILABLE, "node n2 is starting: control state not loaded"));
      assertThat(c.write("v3", 0, new byte[] {1}).get(10, TimeUnit.SECONDS).epoch()).isEqualTo(3);
      assertThat(writesSeen.get()).isEqualTo(3);
    }
  }

  /**
   * A write the node never answers is sent again after the answer deadline (same client_seq),
   * not waited for forever: the soak's dependent chains stalled behind unanswered writes.
   */
  @Test
  void aWriteTheNodeNeverAnswersIsSentAgainAfterTheAnswerDeadline() throws Exception {
    try (PrimaryClient c = new PrimaryClient(List.of(HostAndPort.fromString(address)), "p", 4,
        Duration.ofSeconds(10), Duration.ofMillis(300))) {
      script.add(SILENT);
      assertThat(c.write("v3", 0, new byte[] {1}).get(10, TimeUnit.SECONDS).epoch()).isEqualTo(3);
      assertThat(writesSeen.get()).as("sent, unanswered, sent again").isEqualTo(2);
    }
  }

  @Test
  void transientErrorsAreRetried() throws Exception {
    try (PrimaryClient c = client(Duration.ofSeconds(10))) {
      for (Status.Code code : List.of(Status.Code.UNKNOWN, Status.Code.INTERNAL,
          Status.Code.RESOURCE_EXHAUSTED, Status.Code.ABORTED, Status.Code.DEADLINE_EXCEEDED,
          Status.Code.UNAVAILABLE, Status.Code.FAILED_PRECONDITION)) {
        script.add(status(code, "transient " + code));
      }
      assertThat(c.write("v3", 0, new byte[] {1}).get(20, TimeUnit.SECONDS).epoch()).isEqualTo(3);
      assertThat(writesSeen.get()).isEqualTo(8);
    }
  }

  @Test
  void aVolumeThatAFreshAssignmentDoesNotHoldIsNotFound() throws Exception {
    try (PrimaryClient c = client(Duration.ofSeconds(10))) {
      volumeExists = false; // deleted after the client learned it
      version = 7;
      script.add(status(Status.Code.NOT_FOUND, "volume 'v3' does not exist"));
      ExecutionException e = catchThrowableOfType(ExecutionException.class,
          () -> c.write("v3", 0, new byte[] {1}).get(10, TimeUnit.SECONDS));
      assertThat(Status.fromThrowable(e.getCause()).getCode()).isEqualTo(Status.Code.NOT_FOUND);
      assertThat(writesSeen.get()).isEqualTo(1);
    }
  }

  @Test
  void errorsOfTheWriteItselfAreFinalAtOnce() throws Exception {
    try (PrimaryClient c = client(Duration.ofSeconds(10))) {
      for (Status.Code code : List.of(Status.Code.INVALID_ARGUMENT, Status.Code.OUT_OF_RANGE,
          Status.Code.DATA_LOSS)) {
        int before = writesSeen.get();
        script.add(status(code, "bad write " + code));
        ExecutionException e = catchThrowableOfType(ExecutionException.class,
            () -> c.write("v3", 0, new byte[] {1}).get(10, TimeUnit.SECONDS));
        assertThat(Status.fromThrowable(e.getCause()).getCode()).isEqualTo(code);
        assertThat(writesSeen.get()).as("sent once").isEqualTo(before + 1);
      }
    }
  }

  @Test
  void retriesStopAtTheRetryDeadline() throws Exception {
    try (PrimaryClient c = client(Duration.ofMillis(700))) {
      for (int i = 0; i < 1000; i++) {
        script.add(status(Status.Code.FAILED_PRECONDITION,
            "stale assignment version 5; the current version is 6"));
      }
      long start = System.nanoTime();
      ExecutionException e = catchThrowableOfType(ExecutionException.class,
          () -> c.write("v3", 0, new byte[] {1}).get(10, TimeUnit.SECONDS));
      assertThat(Status.fromThrowable(e.getCause()).getCode())
          .isEqualTo(Status.Code.FAILED_PRECONDITION);
      assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofSeconds(5));
      assertThat(writesSeen.get()).isGreaterThan(2);
    }
  }

  /** The Ingest service of a node that has not loaded its control state answers UNAVAILABLE. */
  @Test
  void aStartingNodeAnswersWritesUnavailable() throws Exception {
    IngestService starting = new IngestService(null, 1 << 20, 1 << 20, () -> 0L)
        .whileNotReady(() -> Optional.of("node n2 is starting: control state not loaded"));
    Server node = NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", 0))
        .addService(starting).build().start();
    io.grpc.ManagedChannel ch = io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder
        .forAddress("127.0.0.1", node.getPort()).usePlaintext().build();
    try {
      java.util.concurrent.CompletableFuture<WriteResponse> answer =
          new java.util.concurrent.CompletableFuture<>();
      StreamObserver<WriteRequest> out = IngestGrpc.newStub(ch).write(new StreamObserver<>() {
        @Override
        public void onNext(WriteResponse r) {
          answer.complete(r);
        }

        @Override
        public void onError(Throwable t) {
          answer.completeExceptionally(t);
        }

        @Override
        public void onCompleted() {}
      });
      out.onNext(WriteRequest.newBuilder().setPrimaryId("p").setClientSeq(1).setVolume("v3")
          .setOffset(0).setData(com.google.protobuf.ByteString.copyFrom(new byte[] {1})).build());
      WriteResponse r = answer.get(10, TimeUnit.SECONDS);
      assertThat(r.getError().getCode()).isEqualTo(Status.Code.UNAVAILABLE.value());
      assertThat(r.getError().getMessage()).isEqualTo("node n2 is starting: control state not loaded");
      out.onCompleted();
    } finally {
      ch.shutdownNow();
      node.shutdownNow();
    }
  }

  @Test
  void fencingBetweenNodesReachesPrimariesAsUnavailable() {
    Status fenced = Status.FAILED_PRECONDITION.withDescription(
        "stale assignment version 5; the current version is 6");
    Status toPrimary = Failures.forPrimary(fenced.asException());
    assertThat(toPrimary.getCode()).isEqualTo(Status.Code.UNAVAILABLE);
    assertThat(toPrimary.getDescription()).contains(fenced.getDescription()).endsWith("retry");
    assertThat(Failures.forPrimary(Status.NOT_FOUND.asException()).getCode())
        .isEqualTo(Status.Code.NOT_FOUND);
    // nothing unexpected reaches a primary as UNKNOWN (issue 10, case 12)
    assertThat(Failures.forPrimary(new IllegalStateException("bug")).getCode())
        .isEqualTo(Status.Code.UNAVAILABLE);
  }
}
