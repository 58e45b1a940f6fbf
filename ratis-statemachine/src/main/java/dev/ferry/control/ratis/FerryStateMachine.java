package dev.ferry.control.ratis;

import dev.ferry.control.ClusterState;
import dev.ferry.control.ClusterStateCodec;
import dev.ferry.control.ClusterTransitions;
import dev.ferry.control.Outcome;
import dev.ferry.proto.control.Command;
import dev.ferry.proto.control.CommandResult;
import dev.ferry.proto.control.StateQuery;
import com.google.protobuf.InvalidProtocolBufferException;
import java.io.File;
import java.io.IOException;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentSkipListMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Consumer;
import org.apache.logging.log4j.LogManager;
import org.apache.logging.log4j.Logger;
import org.apache.ratis.proto.RaftProtos.LogEntryProto;
import org.apache.ratis.protocol.Message;
import org.apache.ratis.protocol.RaftClientRequest;
import org.apache.ratis.protocol.RaftGroupId;
import org.apache.ratis.protocol.RaftGroupMemberId;
import org.apache.ratis.protocol.RaftPeerId;
import org.apache.ratis.server.RaftServer;
import org.apache.ratis.server.protocol.TermIndex;
import org.apache.ratis.server.raftlog.RaftLog;
import org.apache.ratis.server.storage.FileInfo;
import org.apache.ratis.server.storage.RaftStorage;
import org.apache.ratis.statemachine.StateMachineStorage;
import org.apache.ratis.statemachine.TransactionContext;
import org.apache.ratis.statemachine.impl.BaseStateMachine;
import org.apache.ratis.statemachine.impl.SimpleStateMachineStorage;
import org.apache.ratis.statemachine.impl.SingleFileSnapshotInfo;
import org.apache.ratis.thirdparty.com.google.protobuf.ByteString;
import org.apache.ratis.util.LifeCycle;
import org.apache.ratis.util.MD5FileUtil;

/**
 * The Ratis adapter around the pure {@link ClusterTransitions}: it decodes commands, validates
 * them in {@link #startTransaction} (so a bad command never reaches the log), applies committed
 * ones, publishes each new state to listeners, serves queries and writes self-verifying
 * snapshots ({@link SnapshotFile}).
 *
 * <p>Threading: {@link #applyTransaction} runs on Ratis's single state-machine updater thread,
 * which alone replaces {@link #current}; every other thread only reads that volatile field.
 * Listeners are called on the updater thread and must not block.
 */
public final class FerryStateMachine extends BaseStateMachine {
  private static final Logger LOG = LogManager.getLogger(FerryStateMachine.class);

  /** The applied state and the log position it reflects, swapped as one. */
  public record Applied(ClusterState state, TermIndex termIndex) {}

  private final SimpleStateMachineStorage storage = new SimpleStateMachineStorage();
  private final List<Consumer<ClusterState>> listeners = new CopyOnWriteArrayList<>();
  /** What to do when this peer's Raft log cannot be written (see notifyLogFailed). */
  private volatile Consumer<Throwable> onLogFailed = cause -> { };
  private volatile Applied current = new Applied(ClusterState.EMPTY, null);
  private final ConcurrentSkipListMap<Long, CompletableFuture<Void>> appliedWaiters =
      new ConcurrentSkipListMap<>();

  /** The state as last applied on this peer. */
  public ClusterState state() {
    return current.state();
  }

  public Applied applied() {
    return current;
  }

  /**
   * Completes once this peer has applied the log up to {@code index} (read-your-writes for a
   * command proposed through another peer).
   */
  public CompletableFuture<Void> whenApplied(long index) {
    if (appliedIndex() >= index) {
      return CompletableFuture.completedFuture(null);
    }
    CompletableFuture<Void> f = appliedWaiters.computeIfAbsent(index, k -> new CompletableFuture<>());
    if (appliedIndex() >= index) { // applied between the check and the insert
      completeWaiters(appliedIndex());
    }
    return f;
  }

  private long appliedIndex() {
    TermIndex ti = current.termIndex();
    return ti == null ? -1 : ti.getIndex();
  }

  private void completeWaiters(long upTo) {
    var done = appliedWaiters.headMap(upTo, true);
    done.values().forEach(f -> f.complete(null));
    done.clear();
  }

  /** Registers a listener and calls it at once with the current state. */
  public void addListener(Consumer<ClusterState> listener) {
    listeners.add(listener);
    listener.accept(current.state());
  }

  @Override
  public void initialize(RaftServer server, RaftGroupId groupId, RaftStorage raftStorage)
      throws IOException {
    super.initialize(server, groupId, raftStorage);
    storage.init(raftStorage);
    getLifeCycle().startAndTransition(() -> loadLatestSnapshot(storage.getLatestSnapshot()),
        IOException.class);
  }

  /** Ratis pauses the state machine before installing a snapshot sent by the leader. */
  @Override
  public void pause() {
    if (getLifeCycleState() == LifeCycle.State.RUNNING) {
      getLifeCycle().transition(LifeCycle.State.PAUSING);
      getLifeCycle().transition(LifeCycle.State.PAUSED);
    }
  }

  /** Called after a snapshot from the leader was installed: load it and run again. */
  @Override
  public void reinitialize() throws IOException {
    loadLatestSnapshot(storage.loadLatestSnapshot());
    if (getLifeCycleState() == LifeCycle.State.PAUSED) {
      getLifeCycle().transition(LifeCycle.State.STARTING);
      getLifeCycle().transition(LifeCycle.State.RUNNING);
    }
  }

  private void loadLatestSnapshot(SingleFileSnapshotInfo snapshot) throws IOException {
    if (snapshot == null) {
      return;
    }
    File file = snapshot.getFile().getPath().toFile();
    SnapshotFile.Contents contents = SnapshotFile.read(file.toPath());
    TermIndex ti = snapshot.getTermIndex();
    if (contents.term() != ti.getTerm() || contents.index() != ti.getIndex()) {
      throw new IOException("corrupt snapshot " + file + ": header says term " + contents.term()
          + " index " + contents.index() + " but the file name says " + ti);
    }
    current = new Applied(contents.state(), ti);
    setLastAppliedTermIndex(ti);
    completeWaiters(ti.getIndex());
    LOG.info("loaded snapshot {} (assignment version {})", file,
        contents.state().assignmentVersion());
    publish(contents.state());
  }

  @Override
  public StateMachineStorage getStateMachineStorage() {
    return storage;
  }

  @Override
  public TransactionContext startTransaction(RaftClientRequest request) throws IOException {
    TransactionContext.Builder trx =
        TransactionContext.newBuilder().setStateMachine(this).setClientRequest(request);
    try {
      Command command = Command.parseFrom(request.getMessage().getContent().toByteArray());
      // validate against the latest applied state; apply() decides again, deterministically
      Outcome outcome = ClusterTransitions.apply(current.state(), command);
      if (outcome instanceof Outcome.Rejected r) {
        return trx.build().setException(new IOException(Rejections.format(r.code(), r.reason())));
      }
      return trx.build();
    } catch (InvalidProtocolBufferException e) {
      return trx.build().setException(
          new IOException(Rejections.format(dev.ferry.proto.control.RejectCode.INVALID,
              "not a Ferry command: " + e.getMessage())));
    }
  }

  @Override
  public CompletableFuture<Message> applyTransaction(TransactionContext trx) {
    LogEntryProto entry = trx.getLogEntry();
    TermIndex ti = TermIndex.valueOf(entry);
    CommandResult.Builder result = CommandResult.newBuilder().setLogIndex(ti.getIndex());
    ClusterState before = current.state();
    ClusterState after = before;
    try {
      Command command =
          Command.parseFrom(entry.getStateMachineLogEntry().getLogData().toByteArray());
      Outcome outcome = ClusterTransitions.apply(before, command, ti.getTerm());
      after = outcome.state();
      if (outcome instanceof Outcome.Rejected r) {
        result.setAccepted(false).setCode(r.code()).setReason(r.reason());
      } else {
        result.setAccepted(true);
      }
    } catch (InvalidProtocolBufferException e) {
      // cannot happen for entries that passed startTransaction; every replica rejects alike
      result.setAccepted(false).setCode(dev.ferry.proto.control.RejectCode.INVALID)
          .setReason("not a Ferry command");
    }
    current = new Applied(after, ti);
    updateLastAppliedTermIndex(ti.getTerm(), ti.getIndex());
    completeWaiters(ti.getIndex());
    if (after != before) {
      publish(after);
    }
    result.setAssignmentVersion(after.assignmentVersion());
    return CompletableFuture.completedFuture(
        Message.valueOf(ByteString.copyFrom(result.build().toByteArray())));
  }

  @Override
  public CompletableFuture<Message> query(Message request) {
    try {
      StateQuery q = StateQuery.parseFrom(request.getContent().toByteArray());
      if (q.getKindCase() == StateQuery.KindCase.FULL_STATE) {
        byte[] bytes = ClusterStateCodec.toProto(current.state()).toByteArray();
        return CompletableFuture.completedFuture(Message.valueOf(ByteString.copyFrom(bytes)));
      }
      return CompletableFuture.failedFuture(new IOException("unknown query " + q.getKindCase()));
    } catch (InvalidProtocolBufferException e) {
      return CompletableFuture.failedFuture(new IOException("not a Ferry query", e));
    }
  }

  @Override
  public long takeSnapshot() throws IOException {
    Applied a = current;
    if (a.termIndex() == null) {
      return RaftLog.INVALID_LOG_INDEX;
    }
    File file = storage.getSnapshotFile(a.termIndex().getTerm(), a.termIndex().getIndex());
    SnapshotFile.write(file.toPath(),
        SnapshotFile.encode(a.termIndex().getTerm(), a.termIndex().getIndex(), a.state()));
    // Ratis checks the MD5 file when it sends the snapshot to a lagging follower
    var md5 = MD5FileUtil.computeAndSaveMd5ForFile(file);
    storage.updateLatestSnapshot(new SingleFileSnapshotInfo(new FileInfo(file.toPath(), md5),
        a.termIndex()));
    LOG.info("snapshot {} written at {}", file, a.termIndex());
    return a.termIndex().getIndex();
  }

  /** Sets what happens when this peer's Raft log fails to write (the node halts, in production). */
  public void onLogFailed(Consumer<Throwable> handler) {
    onLogFailed = handler;
  }

  /**
   * Ratis could not write an entry to this peer's log (a full disk, an I/O error). The peer
   * cannot follow the cluster any more: its later appends fail ("Already running a method"), its
   * state stops while the others go on, and it keeps answering as if it were a member (seen in
   * the soak: a node whose data disk had been full stayed a member that could not rejoin).
   */
  @Override
  public void notifyLogFailed(Throwable cause, LogEntryProto failedEntry) {
    String entry = failedEntry == null ? "an entry" : "entry " + TermIndex.valueOf(failedEntry);
    LOG.error("the Raft log failed to write {}", entry, cause);
    onLogFailed.accept(new IOException("the Raft log failed to write " + entry + ": " + cause,
        cause));
  }

  @Override
  public void notifyLeaderChanged(RaftGroupMemberId groupMemberId, RaftPeerId newLeaderId) {
    LOG.info("{}: leader is now {}", groupMemberId, newLeaderId);
  }

  private void publish(ClusterState state) {
    for (Consumer<ClusterState> l : listeners) {
      try {
        l.accept(state);
      } catch (RuntimeException e) {
        LOG.error("state listener failed", e);
      }
    }
  }
}
