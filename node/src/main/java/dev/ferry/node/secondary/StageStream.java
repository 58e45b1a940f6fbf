package dev.ferry.node.secondary;

import com.google.protobuf.ByteString;
import dev.ferry.control.ClusterTransitions;
import dev.ferry.control.Portion;
import dev.ferry.control.WatermarkDigest;
import dev.ferry.node.secondary.StagedPortion.Update;
import dev.ferry.node.secondary.StagedPortion.Watermark;
import dev.ferry.proto.secondary.PortionWatermark;
import dev.ferry.proto.secondary.StageRequest;
import dev.ferry.proto.secondary.StagedUpdate;
import io.grpc.Status;
import io.grpc.StatusException;
import java.util.ArrayList;
import java.util.List;
import java.util.zip.CRC32C;

/**
 * Collects and checks one Stage stream, before anything is stored: the same epoch and portion in
 * every message, valid fields, each update's crc32c (DATA_LOSS), ascending n (INVALID_ARGUMENT),
 * each update inside the volume (OUT_OF_RANGE), and at the end the updates against the
 * watermark (DATA_LOSS naming what differs). Used by one gRPC call, whose messages arrive one
 * at a time.
 */
final class StageStream {
  private StageRequest first;
  private final List<Update> updates = new ArrayList<>();
  private final WatermarkDigest digest = new WatermarkDigest();
  private PortionWatermark watermark;

  /** Takes the next message of the stream. */
  void add(StageRequest r) throws StatusException {
    if (first == null) {
      checkFirst(r);
      first = r;
    } else {
      checkSamePortion(r);
    }
    if (watermark != null) {
      throw fail(Status.INVALID_ARGUMENT, "a message after the watermark, which must be the last");
    }
    switch (r.getItemCase()) {
      case UPDATE -> addUpdate(r.getUpdate());
      case WATERMARK -> watermark = r.getWatermark();
      default -> throw fail(Status.INVALID_ARGUMENT, "a message with neither update nor watermark");
    }
  }

  private void addUpdate(StagedUpdate u) throws StatusException {
    ByteString data = u.getData();
    String which = "update n=" + u.getN();
    if (data.isEmpty()) {
      throw fail(Status.INVALID_ARGUMENT, which + " has no data");
    }
    CRC32C crc = new CRC32C();
    crc.update(data.asReadOnlyByteBuffer());
    if ((int) crc.getValue() != u.getCrc32C()) {
      throw fail(Status.DATA_LOSS, String.format("%s: crc32c 0x%08x does not match the data "
          + "(0x%08x)", which, u.getCrc32C(), (int) crc.getValue()));
    }
    long size = first.getVolumeSizeBytes();
    if (u.getOffset() < 0 || u.getOffset() > size - data.size()) {
      throw fail(Status.OUT_OF_RANGE, which + ": offset " + u.getOffset() + " + length "
          + data.size() + " is outside volume '" + first.getVolume() + "' (" + size + " bytes)");
    }
    long fileBytes = StagedPortion.fileBytes(first.getVolume(), digest.count() + 1,
        digest.bytes() + data.size());
    if (fileBytes > StagedPortion.MAX_FILE_BYTES) {
      throw fail(Status.RESOURCE_EXHAUSTED, "more than " + StagedPortion.MAX_FILE_BYTES
          + " bytes to stage");
    }
    try {
      digest.add(u.getN(), u.getOffset(), data.size(), u.getCrc32C());
    } catch (IllegalArgumentException e) {
      throw fail(Status.INVALID_ARGUMENT, e.getMessage());
    }
    updates.add(new Update(u.getN(), u.getOffset(), u.getCrc32C(), data));
  }

  private void checkFirst(StageRequest r) throws StatusException {
    if (r.getEpoch() < 1) {
      throw invalid(r, "epoch " + r.getEpoch() + " is not positive");
    }
    if (!ClusterTransitions.NAME.matcher(r.getVolume()).matches()) {
      throw invalid(r, "volume '" + r.getVolume() + "' is not a volume name");
    }
    if (r.getRegion() < 0 || r.getRegion() > Integer.MAX_VALUE) {
      throw invalid(r, "region " + r.getRegion() + " is out of range");
    }
    if (r.getVolumeSizeBytes() < 1) {
      throw invalid(r, "volume_size_bytes " + r.getVolumeSizeBytes() + " is not positive");
    }
  }

  private static StatusException invalid(StageRequest r, String why) {
    return Status.INVALID_ARGUMENT.withDescription("stage of " + r.getVolume() + "/"
        + r.getRegion() + " in epoch " + r.getEpoch() + ": " + why).asException();
  }

  private void checkSamePortion(StageRequest r) throws StatusException {
    if (r.getEpoch() != first.getEpoch() || !r.getVolume().equals(first.getVolume())
        || r.getRegion() != first.getRegion()
        || r.getVolumeSizeBytes() != first.getVolumeSizeBytes()) {
      throw fail(Status.INVALID_ARGUMENT, "a message for " + r.getVolume() + "/" + r.getRegion()
          + " in epoch " + r.getEpoch() + " (volume_size_bytes " + r.getVolumeSizeBytes()
          + "); one stream stages one portion of one epoch");
    }
  }

  /** The checked portion, once the stream has ended. */
  StagedPortion finish() throws StatusException {
    if (first == null) {
      throw Status.INVALID_ARGUMENT.withDescription("an empty Stage stream").asException();
    }
    if (watermark == null) {
      throw fail(Status.INVALID_ARGUMENT, "the stream ended without a watermark");
    }
    Watermark got = Watermark.of(digest);
    Watermark expected = new Watermark(watermark.getCount(), watermark.getBytes(),
        watermark.getLastN(), watermark.getDigest());
    String diffs = got.differencesFrom(expected);
    if (!diffs.isEmpty()) {
      throw fail(Status.DATA_LOSS, "does not match its watermark: " + diffs);
    }
    return new StagedPortion(first.getEpoch(), portion(), first.getVolumeSizeBytes(), got,
        updates);
  }

  private Portion portion() {
    return new Portion(first.getVolume(), (int) first.getRegion());
  }

  /** A failure naming the portion and epoch of this stream. */
  private StatusException fail(Status status, String why) {
    return status.withDescription("portion " + portion() + " of epoch " + first.getEpoch() + ": "
        + why).asException();
  }
}
