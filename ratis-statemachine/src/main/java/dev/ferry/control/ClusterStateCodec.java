package dev.ferry.control;

import com.google.common.collect.ImmutableSortedMap;
import com.google.common.collect.ImmutableSortedSet;
import dev.ferry.proto.control.ClusterStateSnapshot;
import dev.ferry.proto.control.Epoch;
import dev.ferry.proto.control.PortionPlacement;
import dev.ferry.proto.control.PortionRef;
import dev.ferry.proto.control.Watermark;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * Converts {@link ClusterState} to and from its protobuf form. Every list is written in sorted
 * order, so equal states give byte-identical encodings (what snapshots and replicas compare).
 */
public final class ClusterStateCodec {
  private ClusterStateCodec() {}

  public static ClusterStateSnapshot toProto(ClusterState s) {
    ClusterStateSnapshot.Builder b =
        ClusterStateSnapshot.newBuilder()
            .setAssignmentVersion(s.assignmentVersion())
            .setOpenEpoch(s.openEpoch())
            .setConsistentEpoch(s.consistentEpoch())
            .setConsistentEpochClosedAtMillis(s.consistentEpochClosedAtMillis())
            .setCtsPeriodMillis(s.ctsPeriodMillis())
            // the default is written as 0, as snapshots from before SetCopies hold it
            .setCopies(s.copies() == ClusterState.DEFAULT_COPIES ? 0 : s.copies());
    Map<String, Integer> memberIndex = new HashMap<>();
    for (Member m : s.members().values()) {
      memberIndex.put(m.id(), memberIndex.size() + 1);
      b.addMembers(
          dev.ferry.proto.control.Member.newBuilder()
              .setId(m.id())
              .setAddress(m.address())
              .setState(m.state())
              .setIncarnation(m.incarnation())
              .setIngestAddress(m.ingestAddress().equals(m.address()) ? "" : m.ingestAddress())
              .setFailedAtEpoch(m.failedAtEpoch()));
    }
    for (Volume v : s.volumes().values()) {
      b.addVolumes(
          dev.ferry.proto.control.Volume.newBuilder()
              .setName(v.name())
              .setSizeBytes(v.sizeBytes())
              .setRegionSizeBytes(v.regionSizeBytes())
              .setSecondary(v.secondary())
              .setDetached(v.detached())
              .setDetachedAppliedEpoch(v.detachedAppliedEpoch()));
    }
    s.assignment()
        .forEach(
            (volume, a) -> {
              dev.ferry.proto.control.VolumeAssignment.Builder va =
                  dev.ferry.proto.control.VolumeAssignment.newBuilder().setVolume(volume);
              for (int r = 0; r < a.regions(); r++) {
                va.addOwner(a.owner(r) == null ? 0 : memberIndex.get(a.owner(r)));
                List<String> mirrors = a.mirrors(r);
                va.addMirror(mirrors.isEmpty() ? 0 : memberIndex.get(mirrors.get(0)));
                for (int k = 1; k < s.copies() - 1; k++) {
                  va.addMoreMirror(k < mirrors.size() ? memberIndex.get(mirrors.get(k)) : 0);
                }
              }
              b.addAssignment(va);
            });
    for (EpochRecord e : s.epochs().values()) {
      Epoch.Builder eb =
          Epoch.newBuilder()
              .setNumber(e.number())
              .setState(e.state())
              .setClosedAtMillis(e.closedAtMillis())
              .addAllWatermarks(e.watermarks().values())
              .addAllAppliedBy(e.appliedBy())
              .addAllSecondaries(e.secondaries());
      for (Portion p : e.staged()) {
        eb.addStaged(PortionRef.newBuilder().setVolume(p.volume()).setRegion(p.region()));
      }
      b.addEpochs(eb);
    }
    return b.build();
  }

  /**
   * Rebuilds the state from its protobuf form.
   *
   * @throws IllegalArgumentException if the snapshot is inconsistent (a bad member index, an
   *     assignment for an unknown volume, a region count that does not match)
   */
  public static ClusterState fromProto(ClusterStateSnapshot p) {
    TreeMap<String, Member> members = new TreeMap<>();
    List<dev.ferry.proto.control.Member> memberList = p.getMembersList();
    for (dev.ferry.proto.control.Member m : memberList) {
      members.put(m.getId(), new Member(m.getId(), m.getAddress(), m.getState(), m.getIncarnation(),
          m.getIngestAddress(), m.getFailedAtEpoch()));
    }
    TreeMap<String, Volume> volumes = new TreeMap<>();
    for (dev.ferry.proto.control.Volume v : p.getVolumesList()) {
      volumes.put(v.getName(),
          new Volume(v.getName(), v.getSizeBytes(), v.getRegionSizeBytes(), v.getSecondary(),
              v.getDetached(), v.getDetachedAppliedEpoch()));
    }
    int copies = p.getCopies() == 0 ? ClusterState.DEFAULT_COPIES : p.getCopies();
    if (copies < ClusterTransitions.MIN_COPIES || copies > ClusterTransitions.MAX_COPIES) {
      throw new IllegalArgumentException("snapshot has copies " + copies);
    }
    int more = copies - 2; // further mirrors per region
    TreeMap<String, VolumeAssignment> assignment = new TreeMap<>();
    for (dev.ferry.proto.control.VolumeAssignment va : p.getAssignmentList()) {
      Volume v = volumes.get(va.getVolume());
      if (v == null || va.getOwnerCount() != v.regionCount()
          || va.getMirrorCount() != v.regionCount()
          || va.getMoreMirrorCount() != (long) more * v.regionCount()) {
        throw new IllegalArgumentException("snapshot assignment of volume '" + va.getVolume()
            + "' does not match its volume");
      }
      String[] owners = new String[va.getOwnerCount()];
      String[][] mirrors = new String[va.getMirrorCount()][];
      for (int r = 0; r < owners.length; r++) {
        owners[r] = memberAt(memberList, va.getOwner(r));
        mirrors[r] = new String[1 + more];
        mirrors[r][0] = memberAt(memberList, va.getMirror(r));
        for (int k = 0; k < more; k++) {
          mirrors[r][1 + k] = memberAt(memberList, va.getMoreMirror(r * more + k));
        }
      }
      assignment.put(va.getVolume(), VolumeAssignment.ofMirrorLists(owners, mirrors));
    }
    TreeMap<Long, EpochRecord> epochs = new TreeMap<>();
    for (Epoch e : p.getEpochsList()) {
      TreeMap<Portion, Watermark> watermarks = new TreeMap<>();
      for (Watermark w : e.getWatermarksList()) {
        watermarks.put(new Portion(w.getVolume(), (int) w.getRegion()), w);
      }
      TreeSet<String> secondaries = new TreeSet<>(e.getSecondariesList());
      TreeSet<Portion> staged = new TreeSet<>();
      for (PortionRef r : e.getStagedList()) {
        staged.add(new Portion(r.getVolume(), (int) r.getRegion()));
      }
      epochs.put(e.getNumber(), new EpochRecord(e.getNumber(), e.getState(),
          ImmutableSortedMap.copyOfSorted(watermarks), ImmutableSortedSet.copyOfSorted(staged),
          ImmutableSortedSet.copyOfSorted(secondaries),
          ImmutableSortedSet.copyOf(e.getAppliedByList()), e.getClosedAtMillis()));
    }
    return new ClusterState(p.getAssignmentVersion(), ImmutableSortedMap.copyOfSorted(members),
        ImmutableSortedMap.copyOfSorted(volumes), ImmutableSortedMap.copyOfSorted(assignment),
        p.getOpenEpoch(), ImmutableSortedMap.copyOfSorted(epochs), p.getConsistentEpoch(),
        p.getConsistentEpochClosedAtMillis(), p.getCtsPeriodMillis(), copies);
  }

  /** The assignment as a flat, sorted list of placements (what `ferry admin assignment` shows). */
  public static List<PortionPlacement> placements(ClusterState s) {
    List<PortionPlacement> out = new java.util.ArrayList<>();
    s.assignment().forEach((volume, a) -> {
      for (int r = 0; r < a.regions(); r++) {
        out.add(AssignmentPolicy.placement(volume, r, a));
      }
    });
    return out;
  }

  private static String memberAt(List<dev.ferry.proto.control.Member> members, int index) {
    if (index == 0) {
      return null;
    }
    if (index < 0 || index > members.size()) {
      throw new IllegalArgumentException("snapshot refers to member #" + index + " of "
          + members.size());
    }
    return members.get(index - 1).getId();
  }
}
