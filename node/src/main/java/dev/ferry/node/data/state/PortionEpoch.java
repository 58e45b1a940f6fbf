package dev.ferry.node.data.state;

import dev.ferry.control.Portion;

/** One portion's share of one epoch: the unit that is numbered, sealed and staged. */
public record PortionEpoch(Portion portion, long epoch) {}
