package dev.ferry.node.cli;

import com.google.gson.Gson;
import com.google.gson.GsonBuilder;

/** The one JSON printer of the CLI: compact, field order as built, no HTML escaping. */
final class Json {
  static final Gson GSON = new GsonBuilder().disableHtmlEscaping().create();

  private Json() {}
}
