package dev.ferry.node.data;

import dev.ferry.control.ClusterState;
import dev.ferry.control.Portion;
import dev.ferry.control.Volume;
import io.grpc.Status;
import io.grpc.StatusException;
import java.util.zip.CRC32C;

/**
 * Checks one write against the cluster state before anything is stored (DESIGN.md §9): every
 * failure names the field. Pure.
 */
public final class WriteValidator {
  private WriteValidator() {}

  /**
   * Returns the portion the write belongs to.
   *
   * @throws StatusException INVALID_ARGUMENT, NOT_FOUND, OUT_OF_RANGE or DATA_LOSS, naming the field
   */
  public static Portion validate(ClusterState state, String primaryId, String volume, long offset,
      byte[] data, int crc32c, long maxWriteBytes) throws StatusException {
    if (primaryId.isEmpty()) {
      throw fail(Status.INVALID_ARGUMENT, "primary_id is empty");
    }
    Volume v = state.volumes().get(volume);
    if (v == null) {
      throw fail(Status.NOT_FOUND, "volume '" + volume + "' does not exist");
    }
    if (data.length == 0) {
      throw fail(Status.INVALID_ARGUMENT, "data is empty");
    }
    if (data.length > maxWriteBytes) {
      throw fail(Status.INVALID_ARGUMENT, "data is " + data.length + " bytes; a write holds at most "
          + maxWriteBytes);
    }
    if (offset < 0 || offset > v.sizeBytes() - data.length) {
      throw fail(Status.OUT_OF_RANGE, "offset " + offset + " + length " + data.length
          + " is outside volume '" + volume + "' (" + v.sizeBytes() + " bytes)");
    }
    long region = offset / v.regionSizeBytes();
    long regionEnd = (region + 1) * v.regionSizeBytes();
    if (offset + data.length > regionEnd) {
      throw fail(Status.INVALID_ARGUMENT, "offset " + offset + " + length " + data.length
          + " crosses the region boundary at " + regionEnd + " of volume '" + volume
          + "'; split the write there");
    }
    CRC32C crc = new CRC32C();
    crc.update(data);
    if ((int) crc.getValue() != crc32c) {
      throw fail(Status.DATA_LOSS, String.format(
          "crc32c 0x%08x does not match the data (0x%08x)", crc32c, (int) crc.getValue()));
    }
    return new Portion(volume, (int) region);
  }

  static StatusException fail(Status status, String message) {
    return status.withDescription(message).asException();
  }
}
