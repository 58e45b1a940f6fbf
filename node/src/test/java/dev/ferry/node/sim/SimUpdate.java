package dev.ferry.node.sim;

import dev.ferry.node.data.state.Numbered;

/** An update as the simulated owner keeps it in its {@code Sequencer}. */
record SimUpdate(String key, long n, long offset, int length, int crc32c) implements Numbered {}
