#include "steppar/plan.hpp"

#include "sealed_json.hpp"
#include "steppar/atomic_file.hpp"
#include "steppar/error.hpp"
#include "steppar/files.hpp"
#include "steppar/hash.hpp"
#include "steppar/interruption.hpp"
#include "steppar/slicer.hpp"
#include "steppar/text.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstring>

namespace fs = std::filesystem;

namespace steppar {
namespace {

// ["a","b",...] without building a JSON tree: plans may hold millions of names.
std::string json_array(const std::vector<std::string>& names) {
    std::string out = "[";
    std::size_t bytes = 2;
    for (const auto& n : names) bytes += n.size() + 3;
    out.reserve(bytes);
    for (std::size_t i = 0; i < names.size(); ++i) {
        if (i) out.push_back(',');
        append_json_string(out, names[i]);
    }
    out.push_back(']');
    return out;
}

template <class F>
auto parsed(std::string_view text, const std::string& origin, const char* what, F&& read, bool sealed = false) {
    try {
        auto j = nlohmann::json::parse(text);
        if (j.at("format").get<int>() != SlicePlan::format)
            throw StateError(std::string(what) + " '" + origin + "' has format " + j.at("format").dump() +
                             ", this steppar reads " + std::to_string(SlicePlan::format) + " (rerun the slicer)");
        if (sealed) unseal(j, what, origin, "rerun the pipeline to re-slice");
        return read(j);
    } catch (const nlohmann::json::exception& e) {
        throw StateError(std::string(what) + " '" + origin + "' is corrupt (" + e.what() + "); rerun the pipeline to re-slice");
    }
}

}  // namespace

std::size_t SlicePlan::partition_count() const {
    std::size_t n = 0;
    for (const auto& s : slices) n += s.size();
    return n;
}

SlicePlan make_plan(std::string unit, std::vector<std::string> inputs, const std::vector<std::string>& partitions,
                    int slice_count) {
    std::vector<std::vector<std::string>> slices;
    for (const auto& range : slice_evenly(partitions.size(), slice_count))
        slices.emplace_back(partitions.begin() + static_cast<std::ptrdiff_t>(range.begin),
                            partitions.begin() + static_cast<std::ptrdiff_t>(range.end));
    return make_plan(std::move(unit), std::move(inputs), std::move(slices));
}

SlicePlan make_plan(std::string unit, std::vector<std::string> inputs, std::vector<std::vector<std::string>> slices) {
    SlicePlan plan;
    plan.unit = std::move(unit);
    plan.inputs = std::move(inputs);
    plan.slices = std::move(slices);
    plan.plan_id = plan_identity(plan);
    return plan;
}

std::string plan_identity(const SlicePlan& plan) {
    // The id covers everything that decides what a slice does, so a marker from another plan
    // (other partitions, other cut, another generation) can never be mistaken for this one's.
    Sha256 identity;
    std::string head = "{\"unit\":";
    append_json_string(head, plan.unit);
    head += ",\"generation\":" + std::to_string(plan.generation) + ",\"definition\":";
    append_json_string(head, plan.definition);
    head += ",\"inputs\":" + json_array(plan.inputs) + ",\"slices\":[";
    identity.update(head);
    for (std::size_t i = 0; i < plan.slices.size(); ++i) {
        if (i) identity.update(",");
        identity.update(json_array(plan.slices[i]));
    }
    identity.update("]}");
    return identity.hex();
}

SlicePart part_of(const SlicePlan& plan, int slice) {
    return {plan.unit, plan.plan_id, slice, plan.slices.at(static_cast<std::size_t>(slice))};
}

namespace {

// The index, vouching for each part by its SHA-256.
std::string index_json(const SlicePlan& plan, const std::vector<std::string>& part_digests) {
    nlohmann::json slices = nlohmann::json::array();
    for (std::size_t i = 0; i < plan.slices.size(); ++i)
        slices.push_back({{"slice", i}, {"partitions", plan.slices[i].size()}, {"digest", part_digests.at(i)}});
    const nlohmann::json j = {{"format", SlicePlan::format},
                              {"unit", plan.unit},
                              {"plan_id", plan.plan_id},
                              {"generation", plan.generation},
                              {"definition", plan.definition},
                              {"summary", {{"new", plan.summary.new_count}, {"changed", plan.summary.changed},
                                           {"up_to_date", plan.summary.up_to_date}, {"retracted", plan.summary.retracted}}},
                              {"inputs", plan.inputs},
                              {"slice_count", plan.slices.size()},
                              {"partition_count", plan.partition_count()},
                              {"slices", std::move(slices)}};
    return seal(j);
}

}  // namespace

std::string index_json(const SlicePlan& plan) {
    std::vector<std::string> digests;
    for (std::size_t i = 0; i < plan.slices.size(); ++i) digests.push_back(sha256_hex(part_json(plan, static_cast<int>(i))));
    return index_json(plan, digests);
}

namespace {

// What a part's file holds before its array of names, and after it.
std::string part_head(std::string_view unit, std::string_view plan_id, int slice) {
    std::string out = "{\"format\": " + std::to_string(SlicePlan::format) + ", \"unit\": ";
    append_json_string(out, unit);
    out += ", \"plan_id\": ";
    append_json_string(out, plan_id);
    out += ", \"slice\": " + std::to_string(slice) + ",\n \"partitions\": ";
    return out;
}
constexpr std::string_view part_tail = "}\n";

}  // namespace

std::string part_json(const SlicePlan& plan, int slice) {
    std::string out = part_head(plan.unit, plan.plan_id, slice);
    out += json_array(plan.slices.at(static_cast<std::size_t>(slice)));
    out += part_tail;
    return out;
}

PlanIndex index_from_json(std::string_view text, const std::string& origin) {
    return parsed(text, origin, "slice plan", [&](const nlohmann::json& j) {
        PlanIndex index;
        index.unit = j.at("unit").get<std::string>();
        index.plan_id = j.at("plan_id").get<std::string>();
        index.generation = j.at("generation").get<std::uint64_t>();
        index.definition = j.at("definition").get<std::string>();
        const auto& summary = j.at("summary");
        index.summary = {summary.at("new").get<std::size_t>(), summary.at("changed").get<std::size_t>(),
                         summary.at("up_to_date").get<std::size_t>(), summary.at("retracted").get<std::size_t>()};
        index.inputs = j.at("inputs").get<std::vector<std::string>>();
        const auto& slices = j.at("slices");
        if (slices.size() != j.at("slice_count").get<std::size_t>())
            throw StateError("slice plan '" + origin + "': slice_count does not match slices");
        for (std::size_t i = 0; i < slices.size(); ++i) {
            if (slices[i].at("slice").get<std::size_t>() != i) throw StateError("slice plan '" + origin + "': slices are out of order");
            index.slice_sizes.push_back(slices[i].at("partitions").get<std::size_t>());
            index.part_digests.push_back(slices[i].at("digest").get<std::string>());
        }
        return index;
    }, /*sealed=*/true);
}

SlicePart part_from_json(std::string_view text, const std::string& origin) {
    return parsed(text, origin, "slice plan part", [&](const nlohmann::json& j) {
        SlicePart part;
        part.unit = j.at("unit").get<std::string>();
        part.plan_id = j.at("plan_id").get<std::string>();
        part.slice = j.at("slice").get<int>();
        part.partitions = j.at("partitions").get<std::vector<std::string>>();
        return part;
    });
}

void write_plan(const StateLayout& state, const SlicePlan& plan) {
    std::error_code ec;
    fs::remove_all(state.plan_parts_dir(plan.unit), ec);  // parts of an older, longer plan must go
    std::vector<std::string> digests;
    for (std::size_t i = 0; i < plan.slices.size(); ++i) {
        interruption_point();  // before the index: an interrupted plan is never vouched for
        const std::string part = part_json(plan, static_cast<int>(i));
        digests.push_back(sha256_hex(part));
        write_file_atomically(state.plan_part(plan.unit, static_cast<int>(i)), part);
    }
    sync_filesystem(state.plan_parts_dir(plan.unit));  // once for all parts, before the index vouches for them
    write_file_atomically(state.plan(plan.unit), index_json(plan, digests), AtomicFile::Durability::durable);
}

PlanIndex read_plan_index(const StateLayout& state, std::string_view unit) {
    const fs::path path = state.plan(unit);
    std::error_code ec;
    if (!fs::exists(path, ec))
        throw StateError("no slice plan at '" + path.string() + "': run the slicer first (steppar-host run)");
    return index_from_json(read_file(path), path.string());
}

namespace {

// Reads the part of `slice` in pieces, passing each to `each(piece, file_size)`, and checks
// that it is the part the index vouches for: there, and of the SHA-256 the index gives for it.
// Every reader of a part reads it through here. Returns the part's path.
template <class F>
fs::path read_vouched_part(const StateLayout& state, std::string_view unit, const PlanIndex& index, int slice, F&& each) {
    const fs::path path = state.plan_part(unit, slice);
    std::error_code ec;
    if (!fs::exists(path, ec))
        throw StateError("slice plan part '" + path.string() + "' is missing; rerun the pipeline to re-slice");
    FilePieces file(path);
    Sha256 digest;
    for (std::string_view piece = file.next(); !piece.empty(); piece = file.next()) {
        digest.update(piece);
        each(piece, file.size());
    }
    // The index vouches for its parts: a part edited, even keeping its size, is refused.
    if (digest.hex() != index.part_digests[static_cast<std::size_t>(slice)])
        throw StateError("slice plan part '" + path.string() + "' is damaged or belongs to another plan (its checksum does not match "
                         "the plan's); rerun the pipeline to re-slice");
    return path;
}

// The part of `slice` of the plan `index`, read whole and checked.
SlicePart part_of_index(const StateLayout& state, std::string_view unit, const PlanIndex& index, int slice) {
    std::string text;
    const fs::path path = read_vouched_part(state, unit, index, slice, [&](std::string_view piece, std::size_t size) {
        if (text.empty()) text.reserve(size);
        text.append(piece);
    });
    SlicePart part = part_from_json(text, path.string());
    if (part.plan_id != index.plan_id || part.slice != slice || part.unit != unit ||
        part.partitions.size() != index.slice_sizes[static_cast<std::size_t>(slice)])
        throw StateError("slice plan part '" + path.string() + "' belongs to another plan; rerun the pipeline to re-slice");
    return part;
}

// Looks for one name in a part's text as part_json() writes it, fed in pieces: the expected
// head (its unit, plan and slice), the names as a JSON array, the tail. It compares each
// name's bytes with the name's JSON text and counts them. `sure()` is false when the text is
// laid out otherwise (another writer, or not a part of this plan) or when the name was not
// found but some name had an escape (which might spell it another way): a full parse decides.
class NameScan {
public:
    NameScan(std::string head, std::string_view name) : head_(std::move(head)) {
        append_json_string(name_, name);
        name_ = name_.substr(1, name_.size() - 2);  // without its quotes
    }

    void feed(std::string_view piece) {
        const char* p = piece.data();
        const char* const end = p + piece.size();
        const bool plain = std::memchr(p, '\\', piece.size()) == nullptr;  // no name of this piece has an escape
        while (p < end && state_ != State::bad) {
            switch (state_) {
            case State::head:
            case State::tail: {
                const std::string_view expected = state_ == State::head ? std::string_view(head_) : part_tail;
                if (at_ == expected.size()) {
                    if (state_ == State::tail) return bad();
                    state_ = State::open;
                    break;
                }
                if (*p++ != expected[at_++]) return bad();
                break;
            }
            case State::open:
                if (*p++ != '[') return bad();
                state_ = State::first;
                break;
            case State::first:
            case State::after:
                // The common case, names without escapes one after another (,"name"), taken whole.
                while (plain && state_ == State::after && end - p >= 2 && p[0] == ',' && p[1] == '"') {
                    const char* name = p + 2;
                    const char* close = name;
                    while (close < end && *close != '"') ++close;  // names are short: no call
                    if (close == end) break;  // it goes on in the next piece
                    ++count_;
                    const auto size = static_cast<std::size_t>(close - name);
                    if (size == name_.size() && std::memcmp(name, name_.data(), size) == 0) found_ = true;
                    p = close + 1;
                }
                if (p == end) break;
                if (*p == ']') {
                    state_ = State::tail;
                    at_ = 0;
                } else if (state_ == State::first ? *p == '"' : *p == ',') {
                    state_ = state_ == State::first ? State::name : State::next;
                    matched_ = 0;
                    same_ = true;
                    escaped_ = false;
                } else {
                    return bad();
                }
                ++p;
                break;
            case State::next:
                if (*p++ != '"') return bad();
                state_ = State::name;
                break;
            case State::name: {
                const char* start = p;
                while (p < end && *p != '"' && *p != '\\') ++p;
                compare(start, p);
                if (p == end) break;
                if (*p == '\\') {
                    escaped_ = true;
                    compare(p, p + 1);
                    ++p;
                    state_ = State::escape;
                    break;
                }
                ++p;  // its closing quote
                ++count_;
                if (same_ && matched_ == name_.size()) found_ = true;
                else if (escaped_) unsure_ = true;
                state_ = State::after;
                break;
            }
            case State::escape:
                compare(p, p + 1);
                ++p;
                state_ = State::name;
                break;
            case State::bad: break;
            }
        }
    }

    bool sure() const { return state_ == State::tail && at_ == part_tail.size() && (found_ || !unsure_); }
    bool found() const { return found_; }
    std::size_t count() const { return count_; }

private:
    enum class State { head, open, first, name, escape, after, next, tail, bad };
    void bad() { state_ = State::bad; }
    void compare(const char* from, const char* to) {
        const auto n = static_cast<std::size_t>(to - from);
        if (same_ && matched_ + n <= name_.size() && name_.compare(matched_, n, from, n) == 0) matched_ += n;
        else same_ = false;
    }

    std::string head_, name_;
    State state_ = State::head;
    std::size_t at_ = 0;         // in the head or the tail
    std::size_t matched_ = 0;    // bytes of the current name equal to name_'s
    bool same_ = true, escaped_ = false, found_ = false, unsure_ = false;
    std::size_t count_ = 0;
};

}  // namespace

SlicePart read_slice_part(const StateLayout& state, std::string_view unit, int slice) {
    const PlanIndex index = read_plan_index(state, unit);
    if (slice < 0 || static_cast<std::size_t>(slice) >= index.slice_sizes.size())
        throw UsageError("'" + std::string(unit) + "' has " + std::to_string(index.slice_sizes.size()) + " slices (0.." +
                         std::to_string(static_cast<long>(index.slice_sizes.size()) - 1) + "), there is no slice " +
                         std::to_string(slice));
    return part_of_index(state, unit, index, slice);
}

int slice_holding(const StateLayout& state, std::string_view unit, const PlanIndex& index, std::string_view partition) {
    for (std::size_t i = 0; i < index.slice_sizes.size(); ++i) {
        if (index.slice_sizes[i] == 0) continue;
        const int slice = static_cast<int>(i);
        NameScan scan(part_head(unit, index.plan_id, slice), partition);
        read_vouched_part(state, unit, index, slice, [&](std::string_view piece, std::size_t) { scan.feed(piece); });
        bool holds = scan.found();
        if (!scan.sure() || scan.count() != index.slice_sizes[i]) {
            // Not as this steppar writes it: the full read decides (and refuses what it refuses).
            const auto names = part_of_index(state, unit, index, slice).partitions;
            holds = std::find(names.begin(), names.end(), partition) != names.end();
        }
        if (holds) return slice;
    }
    return -1;
}

}  // namespace steppar
