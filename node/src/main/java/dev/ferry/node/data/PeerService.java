package dev.ferry.node.data;

import dev.ferry.proto.peer.ForwardRequest;
import dev.ferry.control.Portion;
import dev.ferry.proto.control.PortionRef;
import dev.ferry.proto.peer.FetchCopyReply;
import dev.ferry.proto.peer.FetchCopyRequest;
import dev.ferry.proto.peer.FreezeReply;
import dev.ferry.proto.peer.HandoffReply;
import dev.ferry.proto.peer.HandoffRequest;
import dev.ferry.proto.peer.FreezeRequest;
import dev.ferry.proto.peer.SealReply;
import dev.ferry.proto.peer.SealRequest;
import dev.ferry.proto.peer.ThawReply;
import dev.ferry.proto.peer.ThawRequest;
import dev.ferry.proto.peer.MirrorRequest;
import dev.ferry.proto.peer.UnreachableReply;
import dev.ferry.proto.peer.UnreachableReport;
import dev.ferry.proto.peer.PeerError;
import dev.ferry.proto.peer.PeerGrpc;
import dev.ferry.proto.peer.PeerResponse;
import dev.ferry.proto.peer.Sequenced;
import io.grpc.Status;
import io.grpc.stub.StreamObserver;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.function.Function;
import java.util.function.LongSupplier;
import java.util.function.ToLongFunction;

/**
 * The Peer service: Mirror and Forward streams from other nodes, answered per message, and
 * reports of unreachable members (for the leader's failure detector).
 */
public final class PeerService extends PeerGrpc.PeerImplBase {
  private final DataPlane data;
  private final LongSupplier assignmentVersion;
  private final java.util.function.BiConsumer<String, String> suspect;

  public PeerService(DataPlane data, LongSupplier assignmentVersion) {
    this(data, assignmentVersion, (member, why) -> { });
  }

  /** @param suspect told of every member a peer reports unreachable (the leader's detector) */
  public PeerService(DataPlane data, LongSupplier assignmentVersion,
      java.util.function.BiConsumer<String, String> suspect) {
    this.data = data;
    this.assignmentVersion = assignmentVersion;
    this.suspect = suspect;
  }

  @Override
  public void reportUnreachable(UnreachableReport r, StreamObserver<UnreachableReply> out) {
    suspect.accept(r.getMember(), "reported unreachable by " + r.getReporter() + " ("
        + r.getReason() + ")");
    out.onNext(UnreachableReply.getDefaultInstance());
    out.onCompleted();
  }

  @Override
  public StreamObserver<MirrorRequest> mirror(StreamObserver<PeerResponse> responses) {
    return answering(responses, data::acceptMirror, MirrorRequest::getId);
  }

  @Override
  public StreamObserver<ForwardRequest> forward(StreamObserver<PeerResponse> responses) {
    return answering(responses, data::acceptForward, ForwardRequest::getId);
  }

  @Override
  public void freeze(FreezeRequest r, StreamObserver<FreezeReply> out) {
    List<Portion> moving = r.getMovingList().stream()
        .map(m -> new Portion(m.getVolume(), (int) m.getRegion())).toList();
    reply(data.freeze(r.getEpoch(), moving), numberedAfter -> FreezeReply.newBuilder()
        .addAllNumberedAfter(numberedAfter.stream().map(p -> PortionRef.newBuilder()
            .setVolume(p.volume()).setRegion(p.region()).build()).toList())
        .build(), out);
  }

  @Override
  public void thaw(ThawRequest r, StreamObserver<ThawReply> out) {
    reply(data.thaw(r.getEpoch()), v -> ThawReply.getDefaultInstance(), out);
  }

  @Override
  public void seal(SealRequest r, StreamObserver<SealReply> out) {
    reply(data.seal(r.getEpoch(), r.getFailedMembersList()), marks -> SealReply.newBuilder().addAllWatermarks(marks).build(), out);
  }

  @Override
  public void handoff(HandoffRequest r, StreamObserver<HandoffReply> out) {
    reply(data.acceptHandoff(r), v -> HandoffReply.getDefaultInstance(), out);
  }

  @Override
  public void resendHandoff(dev.ferry.proto.peer.ResendHandoffRequest r,
      StreamObserver<dev.ferry.proto.peer.ResendHandoffReply> out) {
    reply(data.resendHandoff(r.getSender(), r.getFailed(), r.getFailedIncarnation()),
        v -> dev.ferry.proto.peer.ResendHandoffReply.getDefaultInstance(), out);
  }

  @Override
  public void fetchCopy(FetchCopyRequest r, StreamObserver<FetchCopyReply> out) {
    reply(data.fetchCopy(r), copy -> copy, out);
  }

  private static <T, R> void reply(CompletableFuture<T> result, Function<T, R> toReply,
      StreamObserver<R> out) {
    result.whenComplete((v, e) -> {
      if (e == null) {
        out.onNext(toReply.apply(v));
        out.onCompleted();
      } else {
        out.onError(Failures.status(e).asRuntimeException());
      }
    });
  }

  private <T> StreamObserver<T> answering(StreamObserver<PeerResponse> responses,
      Function<T, CompletableFuture<SequenceNumber>> handle, ToLongFunction<T> idOf) {
    return new StreamObserver<>() {
      @Override
      public void onNext(T request) {
        long id = idOf.applyAsLong(request);
        handle.apply(request).whenComplete((seq, error) -> {
          PeerResponse.Builder r = PeerResponse.newBuilder().setId(id);
          if (error == null) {
            r.setSequenced(Sequenced.newBuilder().setEpoch(seq.epoch()).setN(seq.n()));
          } else {
            Status s = Failures.status(error);
            r.setError(PeerError.newBuilder().setCode(s.getCode().value())
                .setMessage(Failures.message(s))
                .setAssignmentVersion(assignmentVersion.getAsLong()));
          }
          synchronized (responses) {
            responses.onNext(r.build());
          }
        });
      }

      @Override
      public void onError(Throwable t) {
        // the sender's stream broke; it fails its own pending requests and reopens
      }

      @Override
      public void onCompleted() {
        synchronized (responses) {
          responses.onCompleted();
        }
      }
    };
  }
}
