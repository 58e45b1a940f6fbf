package dev.ferry.node.secondary;

import com.google.protobuf.ByteString;
import dev.ferry.control.Portion;
import dev.ferry.control.WatermarkDigest;
import dev.ferry.proto.secondary.CommitRequest;
import dev.ferry.proto.secondary.FailoverRequest;
import dev.ferry.proto.secondary.PortionId;
import dev.ferry.proto.secondary.PortionWatermark;
import dev.ferry.proto.secondary.ReadRequest;
import dev.ferry.proto.secondary.SecondaryGrpc;
import dev.ferry.proto.secondary.StageReply;
import dev.ferry.proto.secondary.StageRequest;
import dev.ferry.proto.secondary.StagedUpdate;
import dev.ferry.proto.secondary.StatusReply;
import dev.ferry.proto.secondary.StatusRequest;
import io.grpc.ManagedChannel;
import io.grpc.Server;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.inprocess.InProcessChannelBuilder;
import io.grpc.inprocess.InProcessServerBuilder;
import io.grpc.stub.StreamObserver;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.function.UnaryOperator;
import java.util.zip.CRC32C;

/**
 * A secondary store served over in-process gRPC, with a client; {@link #restart} reopens the
 * directory like a restarted process. Also builds Stage streams with matching watermarks.
 */
final class SecondarySite implements AutoCloseable {
  static final long VOLUME_BYTES = 1 << 20;
  static final long REGION_BYTES = 64 << 10;

  final Path dir;
  /** Fatal store failures reported through onFatal. */
  final List<Throwable> fatal = new CopyOnWriteArrayList<>();
  private SecondaryService service;
  private Server server;
  private ManagedChannel channel;
  private SecondaryGrpc.SecondaryBlockingStub blocking;
  private SecondaryGrpc.SecondaryStub async;

  private SecondarySite(Path dir) {
    this.dir = dir;
  }

  static SecondarySite open(Path dir) throws IOException {
    return open(dir, ApplyHook.NONE);
  }

  static SecondarySite open(Path dir, ApplyHook hook) throws IOException {
    SecondarySite site = new SecondarySite(dir);
    site.start(hook);
    return site;
  }

  private void start(ApplyHook hook) throws IOException {
    service = new SecondaryService(SecondaryStore.open(dir, fatal::add, hook));
    String name = InProcessServerBuilder.generateName();
    server = InProcessServerBuilder.forName(name).addService(service).build().start();
    channel = InProcessChannelBuilder.forName(name).build();
    blocking = SecondaryGrpc.newBlockingStub(channel).withDeadlineAfter(10, TimeUnit.SECONDS);
    async = SecondaryGrpc.newStub(channel);
  }

  /** Stops serving and reopens the directory (no apply hook). */
  void restart() throws IOException {
    close();
    start(ApplyHook.NONE);
  }

  @Override
  public void close() {
    channel.shutdownNow();
    server.shutdownNow();
    service.close();
  }

  // ---- client calls ----

  /** Sends the stream; the reply, or the StatusRuntimeException it failed with. */
  StageReply stage(List<StageRequest> stream) {
    CompletableFuture<StageReply> reply = new CompletableFuture<>();
    StreamObserver<StageRequest> requests = async.stage(new StreamObserver<>() {
      @Override
      public void onNext(StageReply r) {
        reply.complete(r);
      }

      @Override
      public void onError(Throwable t) {
        reply.completeExceptionally(t);
      }

      @Override
      public void onCompleted() {
        reply.completeExceptionally(new AssertionError("completed without a reply"));
      }
    });
    stream.forEach(requests::onNext);
    requests.onCompleted();
    try {
      return reply.get(10, TimeUnit.SECONDS);
    } catch (ExecutionException e) {
      if (e.getCause() instanceof StatusRuntimeException s) {
        throw s;
      }
      throw new AssertionError(e.getCause());
    } catch (Exception e) {
      throw new AssertionError(e);
    }
  }

  long commit(long epoch, Portion... expected) {
    CommitRequest.Builder r = CommitRequest.newBuilder().setEpoch(epoch)
        .setClosedAtMillis(closedAt(epoch));
    for (Portion p : expected) {
      r.addExpected(PortionId.newBuilder().setVolume(p.volume()).setRegion(p.region()));
    }
    return blocking.commit(r.build()).getAppliedEpoch();
  }

  /** The close time every test gives epoch. */
  static long closedAt(long epoch) {
    return 1_700_000_000_000L + epoch * 250;
  }

  byte[] read(String volume, long offset, long length) {
    return blocking.read(ReadRequest.newBuilder().setVolume(volume).setOffset(offset)
        .setLength(length).build()).getData().toByteArray();
  }

  StatusReply status() {
    return blocking.status(StatusRequest.getDefaultInstance());
  }

  long failover() {
    return blocking.failover(FailoverRequest.getDefaultInstance()).getDiscardedEpochs();
  }

  /** The status a call failed with; an AssertionError if it succeeded. */
  static Status failure(Runnable call) {
    try {
      call.run();
    } catch (StatusRuntimeException e) {
      return e.getStatus();
    }
    throw new AssertionError("the call succeeded");
  }

  // ---- Stage streams ----

  /** One update of n at offset with seeded random data of length bytes. */
  static StagedUpdate update(long n, long offset, int length) {
    byte[] data = data(n * 31 + offset, length);
    return StagedUpdate.newBuilder().setPrimaryId("p1").setClientSeq(n).setN(n).setOffset(offset)
        .setData(ByteString.copyFrom(data)).setCrc32C(crc(data)).build();
  }

  static byte[] data(long seed, int length) {
    byte[] b = new byte[length];
    new Random(seed).nextBytes(b);
    return b;
  }

  static int crc(byte[] data) {
    CRC32C c = new CRC32C();
    c.update(data);
    return (int) c.getValue();
  }

  /** The stream staging updates (in this order) of the portion, ended by their watermark. */
  static List<StageRequest> portion(long epoch, Portion p, StagedUpdate... updates) {
    return portion(epoch, p, w -> w, updates);
  }

  /** The same, with the watermark changed by tamper. */
  static List<StageRequest> portion(long epoch, Portion p,
      UnaryOperator<PortionWatermark.Builder> tamper, StagedUpdate... updates) {
    WatermarkDigest d = new WatermarkDigest();
    Arrays.stream(updates).sorted((a, b) -> Long.compare(a.getN(), b.getN()))
        .forEach(u -> d.add(u.getN(), u.getOffset(), u.getData().size(), u.getCrc32C()));
    StageRequest head = StageRequest.newBuilder().setEpoch(epoch).setVolume(p.volume())
        .setRegion(p.region()).setVolumeSizeBytes(VOLUME_BYTES).build();
    List<StageRequest> stream = new ArrayList<>();
    for (StagedUpdate u : updates) {
      stream.add(head.toBuilder().setUpdate(u).build());
    }
    PortionWatermark.Builder w = PortionWatermark.newBuilder().setCount(d.count())
        .setBytes(d.bytes()).setLastN(d.lastN()).setDigest(ByteString.copyFrom(d.digest()));
    stream.add(head.toBuilder().setWatermark(tamper.apply(w)).build());
    return stream;
  }

  /** The offset of byte at in region of a volume. */
  static long at(int region, long at) {
    return region * REGION_BYTES + at;
  }
}
