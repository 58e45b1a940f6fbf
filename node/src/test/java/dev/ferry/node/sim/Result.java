package dev.ferry.node.sim;

/** An answer to a simulated call: a value, or why it failed. */
record Result<T>(T value, String error) {
  static <T> Result<T> ok(T value) {
    return new Result<>(value, null);
  }

  static <T> Result<T> fail(String error) {
    return new Result<>(null, error);
  }

  boolean isOk() {
    return error == null;
  }
}
