// JSON for node authors, on top of steppar/io.hpp: read a partition as one JSON value or as JSON
// Lines, write values, and make a node from `nlohmann::json f(const nlohmann::json&)`.
// Header-only; needs nlohmann/json (Debian's nlohmann-json3-dev) only in plugins that include it.
//
//   void enrich(steppar::PartitionContext& ctx) {
//       steppar::io::map_json_lines(ctx, [](const nlohmann::json& row) {
//           nlohmann::json out = row;
//           out["total"] = row.at("price").get<double>() * row.at("qty").get<int>();
//           return out;
//       });
//   }
#pragma once

#include <steppar/io.hpp>
#include <steppar/sdk.hpp>

#include <nlohmann/json.hpp>

#include <stdexcept>
#include <string>

namespace steppar::io {

/// The whole of `file` as one JSON value. Throws std::runtime_error naming the file and where
/// the JSON is wrong.
inline nlohmann::json read_json(const InputFile& file) {
    const std::string text = file.read_text();
    try {
        return nlohmann::json::parse(text);
    } catch (const nlohmann::json::parse_error& e) {
        throw std::runtime_error("input file '" + file.path() + "' is not valid JSON: " + e.what());
    }
}

/// Writes `value` to `out` followed by a newline; `indent` below 0 writes it on one line.
inline void write_json(OutputFile& out, const nlohmann::json& value, int indent = -1) {
    out.stream() << value.dump(indent) << '\n';
}

/// Calls `f(value)` for each non-empty line of `file`, parsed as JSON (JSON Lines). Throws
/// std::runtime_error naming the file and the line that is not JSON.
template <class F>
void for_each_json_line(const InputFile& file, F&& f) {
    std::size_t number = 0;
    for (std::string_view line : lines(file)) {
        ++number;
        if (line.find_first_not_of(" \t") == std::string_view::npos) continue;
        nlohmann::json value;
        try {
            value = nlohmann::json::parse(line);
        } catch (const nlohmann::json::parse_error& e) {
            throw std::runtime_error("input file '" + file.path() + "' line " + std::to_string(number) + " is not valid JSON: " + e.what());
        }
        f(value);
    }
}

/// A partition node from a JSON function: the first output is `f(the first input as JSON)`.
template <class F>
void map_json(PartitionContext& ctx, F&& f) {
    write_json(ctx.output(), f(read_json(ctx.input())));
}

/// A partition node over JSON Lines: each line of the first input becomes the line `f(value)`
/// in the first output, in order; a null result drops the line.
template <class F>
void map_json_lines(PartitionContext& ctx, F&& f) {
    OutputFile& out = ctx.output();
    for_each_json_line(ctx.input(), [&](const nlohmann::json& value) {
        const nlohmann::json mapped = f(value);
        if (!mapped.is_null()) write_json(out, mapped);
    });
}

}  // namespace steppar::io
