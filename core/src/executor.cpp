#include "steppar/executor.hpp"

#include "steppar/atomic_file.hpp"
#include "steppar/configurator.hpp"
#include "steppar/error.hpp"
#include "steppar/expand.hpp"
#include "steppar/hash.hpp"
#include "steppar/events.hpp"
#include "steppar/log.hpp"
#include "steppar/marker.hpp"
#include "steppar/slicer.hpp"
#include "steppar/text.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <regex>
#include <chrono>
#include <iterator>
#include <deque>
#include <map>
#include <set>
#include <cstdio>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace fs = std::filesystem;

namespace steppar {
namespace {

// --- the SDK contexts, implemented over files -----------------------------------------------

/// Named JSON values with typed access: a node's params, or a configurator's data fields.
class JsonFields final : public Params {
public:
    JsonFields(std::map<std::string, std::string> values, std::string what, std::string missing_hint)
        : values_(std::move(values)), what_(std::move(what)), missing_hint_(std::move(missing_hint)) {}

    /// The params a node lists as inputs (`params:NAME`).
    static JsonFields of_node(const Pipeline& pipeline, const Node& node) {
        std::map<std::string, std::string> values;
        for (const auto& in : node.inputs)
            if (Node::is_param(in)) values[Node::param_name(in)] = pipeline.params().find(Node::param_name(in))->second;
        return JsonFields(std::move(values), "parameter", "is not an input of node '" + node.name + "' (add it as params:NAME)");
    }
    /// A configurator's data: its top-level fields, and "" for the whole value.
    static JsonFields of_configuration(const Configurator* chosen) {
        std::map<std::string, std::string> values;
        if (chosen) {
            const auto data = nlohmann::json::parse(chosen->data);
            values[""] = chosen->data;
            if (data.is_object())
                for (const auto& [key, value] : data.items()) values[key] = value.dump();
        }
        return JsonFields(std::move(values), "configuration field",
                          chosen ? "is not in the data of configurator '" + chosen->name + "'" : "is missing: no configurator applies to this partition");
    }

    bool has(std::string_view name) const override { return values_.count(std::string(name)) > 0; }
    std::string json(std::string_view name) const override { return find(name); }
    long long integer(std::string_view name) const override { return typed<long long>(name, "an integer"); }
    double number(std::string_view name) const override { return typed<double>(name, "a number"); }
    std::string text(std::string_view name) const override { return typed<std::string>(name, "a string"); }
    bool boolean(std::string_view name) const override { return typed<bool>(name, "true or false"); }

private:
    const std::string& find(std::string_view name) const {
        const auto it = values_.find(std::string(name));
        if (it == values_.end()) throw std::runtime_error(what_ + " '" + std::string(name) + "' " + missing_hint_);
        return it->second;
    }
    template <class T>
    T typed(std::string_view name, const char* kind) const {
        const auto value = nlohmann::json::parse(find(name));
        try {
            if constexpr (std::is_same_v<T, long long>) {
                if (!value.is_number_integer()) throw std::invalid_argument("");
            } else if constexpr (std::is_same_v<T, double>) {
                if (!value.is_number()) throw std::invalid_argument("");
            }
            return value.get<T>();
        } catch (const std::exception&) {
            throw std::runtime_error(what_ + " '" + std::string(name) + "' must be " + kind + ", got " + value.dump());
        }
    }
    std::map<std::string, std::string> values_;
    std::string what_, missing_hint_;
};

/// Configuration handed to one partition call.
struct Chosen {
    const Configurator* configurator = nullptr;
    const JsonFields* fields = &none();
    std::string name;
    static const JsonFields& none() {
        static const JsonFields empty = JsonFields::of_configuration(nullptr);
        return empty;
    }
};

class Output final : public OutputFile {
public:
    explicit Output(std::string target) : file_(std::move(target)) {}
    const std::string& path() const override { return file_.target(); }
    std::ostream& stream() override { return file_.stream(); }
    void commit() { file_.commit(); }

private:
    AtomicFile file_;
};

template <class V>
auto& checked_at(V& items, std::size_t i, const char* what) {
    if (i >= items.size())
        throw std::out_of_range(std::string("node asked for ") + what + " " + std::to_string(i) + " but has " +
                                std::to_string(items.size()));
    return items[i];
}

// A node's ctx.log()/ctx.warn(): a line in the run's log, attributed to the node and partition.
void node_log(LogLevel level, std::string_view text, std::string_view node, std::string_view partition) {
    if (level == LogLevel::info && quiet()) return;
    Message m;
    m.level = level == LogLevel::warning ? Level::warning : Level::info;
    m.origin = Origin::node;
    m.text = text;
    m.node = node;
    m.partition = partition;
    events().message(m);
}

/// A partition node with everything a call needs looked up once per slice: its function, its
/// params and its datasets (a slice may call it a million times).
struct BoundNode {
    BoundNode(Project& project, const Node& n)
        : node(n), function(project.function(n)), params(JsonFields::of_node(project.pipeline(), n)) {
        const Catalog& catalog = project.pipeline().catalog();
        for (const auto& in : n.inputs) {
            if (Node::is_param(in)) continue;
            const Dataset& d = catalog.at(in);
            (d.partitioned() ? partitioned_inputs : file_inputs).push_back(&d);
        }
        for (const auto& out : n.outputs) outputs.push_back(&catalog.at(out));
    }
    const Node& node;
    const NodeDescriptor& function;
    JsonFields params;
    std::vector<const Dataset*> partitioned_inputs, file_inputs, outputs;
};

class PartitionCall final : public PartitionContext {
public:
    PartitionCall(const BoundNode& bound, const std::string& partition, const Chosen& chosen)
        : node_(bound.node.name), partition_(partition), params_(bound.params), chosen_(chosen) {
        inputs_.reserve(bound.partitioned_inputs.size());
        for (const Dataset* d : bound.partitioned_inputs) inputs_.emplace_back(d->partition_path(partition));
        for (const Dataset* d : bound.file_inputs) files_.emplace_back(d->path.string());
        for (const Dataset* d : bound.outputs) outputs_.emplace_back(d->partition_path(partition));
    }
    const std::string& partition() const override { return partition_; }
    const InputFile& input(std::size_t i) const override { return checked_at(inputs_, i, "partitioned input"); }
    std::size_t input_count() const override { return inputs_.size(); }
    const InputFile& file(std::size_t i) const override { return checked_at(files_, i, "file input"); }
    std::size_t file_count() const override { return files_.size(); }
    OutputFile& output(std::size_t i) override { return checked_at(outputs_, i, "output"); }
    std::size_t output_count() const override { return outputs_.size(); }
    const Params& params() const override { return params_; }
    const Params& configuration() const override { return *chosen_.fields; }
    const std::string& configurator() const override { return chosen_.name; }
    void write_log(LogLevel level, std::string_view message) override { node_log(level, message, node_, partition_); }
    void commit() {
        for (auto& out : outputs_) out.commit();
    }

private:
    const std::string& node_;
    const std::string& partition_;
    const JsonFields& params_;
    const Chosen& chosen_;
    std::vector<InputFile> inputs_, files_;
    std::deque<Output> outputs_;  // stable addresses: nodes hold OutputFile& across calls
};

class WholeInput final : public InputDataset {
public:
    explicit WholeInput(const Dataset& d) : dataset_(d) {
        if (d.partitioned())
            for (auto& name : list_partitions(d)) partitions_.push_back({name, InputFile(d.partition_path(name))});
        else
            file_ = InputFile(d.path.string());
    }
    const std::string& name() const override { return dataset_.name; }
    bool partitioned() const override { return dataset_.partitioned(); }
    const InputFile& file() const override {
        if (dataset_.partitioned())
            throw std::logic_error("dataset '" + dataset_.name + "' is partitioned: use partitions()");
        return file_;
    }
    const std::vector<PartitionFile>& partitions() const override {
        if (!dataset_.partitioned()) throw std::logic_error("dataset '" + dataset_.name + "' is a file: use file()");
        return partitions_;
    }

private:
    const Dataset& dataset_;
    InputFile file_;
    std::vector<PartitionFile> partitions_;
};

class WholeCall final : public WholeContext {
public:
    WholeCall(const Pipeline& pipeline, const Node& node, const JsonFields& params) : node_(node.name), params_(params) {
        for (const auto& in : node.inputs)
            if (!Node::is_param(in)) inputs_.push_back(std::make_unique<WholeInput>(pipeline.catalog().at(in)));
        for (const auto& out : node.outputs) outputs_.push_back(&pipeline.catalog().at(out));
    }
    const InputDataset& input(std::size_t i) const override {
        check(i, inputs_.size(), "input");
        return *inputs_[i];
    }
    std::size_t input_count() const override { return inputs_.size(); }
    OutputFile& output(std::size_t i) override {
        check(i, outputs_.size(), "output");
        if (outputs_[i]->partitioned())
            throw std::logic_error("output '" + outputs_[i]->name + "' is partitioned: use output_partition()");
        return open(outputs_[i]->path.string());
    }
    OutputFile& output_partition(std::size_t i, std::string_view partition) override {
        check(i, outputs_.size(), "output");
        if (!outputs_[i]->partitioned())
            throw std::logic_error("output '" + outputs_[i]->name + "' is a file: use output()");
        if (partition.empty() || partition.front() == '/' || fs::path(partition).lexically_normal().string().rfind("..", 0) == 0)
            throw std::invalid_argument("partition name '" + std::string(partition) + "' must be a relative path inside the dataset");
        return open(outputs_[i]->partition_path(partition));
    }
    std::size_t output_count() const override { return outputs_.size(); }
    const Params& params() const override { return params_; }
    void write_log(LogLevel level, std::string_view message) override { node_log(level, message, node_, {}); }
    void commit() {
        for (auto& [_, out] : opened_) out->commit();
    }

private:
    static void check(std::size_t i, std::size_t n, const char* what) {
        if (i >= n)
            throw std::out_of_range(std::string("node asked for ") + what + " " + std::to_string(i) + " but has " +
                                    std::to_string(n));
    }
    OutputFile& open(const std::string& target) {
        auto& slot = opened_[target];
        if (!slot) slot = std::make_unique<Output>(target);
        return *slot;
    }
    const std::string& node_;
    const JsonFields& params_;
    std::vector<std::unique_ptr<WholeInput>> inputs_;
    std::vector<const Dataset*> outputs_;
    std::map<std::string, std::unique_ptr<Output>> opened_;
};

// --- shared pieces ----------------------------------------------------------------------------

std::string host_name() {
    char buffer[256] = {};
    ::gethostname(buffer, sizeof buffer - 1);
    return buffer;
}

void create_output_folders(const Pipeline& pipeline, const Unit& unit) {
    for (const auto& n : unit.nodes)
        for (const auto& out : n.outputs) {
            const Dataset& d = pipeline.catalog().at(out);
            std::error_code ec;
            fs::create_directories(d.partitioned() ? d.path : d.path.parent_path(), ec);
            if (ec) throw StateError("cannot create output folder for '" + out + "': " + ec.message());
        }
}

// Partition names present in every one of `inputs`, in sorted order.
std::vector<std::string> zip_partitions(const Pipeline& pipeline, const Unit& unit, const std::vector<std::string>& inputs) {
    if (inputs.size() == 1) return list_partitions(pipeline.catalog().at(inputs[0]));
    std::vector<std::string> names;
    std::vector<std::vector<std::string>> lists;
    for (std::size_t i = 0; i < inputs.size(); ++i) {
        std::vector<std::string> these = list_partitions(pipeline.catalog().at(inputs[i]));
        if (i == 0) {
            names = these;
        } else {
            std::vector<std::string> both;
            std::set_intersection(names.begin(), names.end(), these.begin(), these.end(), std::back_inserter(both));
            names = std::move(both);
        }
        lists.push_back(std::move(these));
    }
    std::vector<std::string> problems;
    for (std::size_t i = 0; inputs.size() > 1 && i < inputs.size(); ++i) {
        std::vector<std::string> alone;
        std::set_difference(lists[i].begin(), lists[i].end(), names.begin(), names.end(), std::back_inserter(alone));
        if (alone.empty()) continue;
        std::vector<std::string> shown(alone.begin(), alone.begin() + static_cast<std::ptrdiff_t>(std::min<std::size_t>(alone.size(), 5)));
        const std::string what = std::to_string(alone.size()) + " partition(s) of '" + inputs[i] + "' left out: no partner of the same name in every other input (" +
                                 join(shown) + (alone.size() > shown.size() ? ", ..." : "") + ")";
        if (unit.options.strict) problems.push_back(what);
        else log("'" + unit.name + "': " + what);
    }
    if (!problems.empty())
        throw SpecError(pipeline.source().string(), unit.line, "'" + unit.name + "' (strict): " + join(problems, "; "));
    return names;
}

// Which zipped partitions the slicer hands out: filter, exclude, --partitions, and no cached ones.
std::vector<std::string> select_partitions(const Pipeline& pipeline, const Unit& unit, std::vector<std::string> names,
                                           const std::string& only) {
    auto compile = [](const std::vector<std::string>& expressions) {
        std::vector<std::regex> out;
        for (const auto& e : expressions) out.emplace_back(e, std::regex::ECMAScript | std::regex::optimize);
        return out;
    };
    const auto filters = compile(unit.options.filter), excludes = compile(unit.options.exclude);
    std::vector<std::regex> narrow;
    try {
        if (!only.empty()) narrow.emplace_back(only, std::regex::ECMAScript | std::regex::optimize);
    } catch (const std::regex_error& e) {
        throw UsageError("--partitions '" + only + "' is not a valid regular expression (" + e.what() + ")");
    }
    auto any_of = [](const std::vector<std::regex>& res, const std::string& name) {
        return std::any_of(res.begin(), res.end(), [&](const std::regex& re) { return std::regex_search(name, re); });
    };
    const ConfiguratorSet* configurators = pipeline.configurators(unit);
    const std::size_t listed = names.size();
    std::size_t cached = 0;
    std::vector<std::string> unconfigured, kept;
    for (auto& name : names) {
        if (!filters.empty() && !any_of(filters, name)) continue;
        if (any_of(excludes, name)) continue;
        if (!narrow.empty() && !any_of(narrow, name)) continue;
        if (configurators) {
            const Configurator* chosen = configurators->choose(name);
            if (chosen && chosen->cached) {
                ++cached;
                continue;
            }
            if (!chosen) unconfigured.push_back(name);
        }
        kept.push_back(std::move(name));
    }
    if (kept.size() + cached < listed)
        log("'" + unit.name + "': " + std::to_string(listed - kept.size() - cached) + " of " + std::to_string(listed) +
            " partition(s) left out by filter/exclude/--partitions");
    if (cached) log("'" + unit.name + "': " + std::to_string(cached) + " cached partition(s) left out (cached: true)");
    if (!unconfigured.empty()) {
        std::vector<std::string> shown(unconfigured.begin(), unconfigured.begin() + static_cast<std::ptrdiff_t>(std::min<std::size_t>(unconfigured.size(), 5)));
        warn("'" + unit.name + "': " + std::to_string(unconfigured.size()) +
            " partition(s) match no configurator and run without configuration data (" + join(shown) +
            (unconfigured.size() > shown.size() ? ", ..." : "") + ")");
    }
    return kept;
}

std::string describe_failure(const std::exception_ptr& failure) {
    try {
        std::rethrow_exception(failure);
    } catch (const std::exception& e) {
        return e.what();
    } catch (...) {
        return "unknown exception (not derived from std::exception)";
    }
}

// Runs `node` on one partition; returns an error message, or "" on success.
std::string call_partition_function(const BoundNode& bound, const std::string& partition, const Chosen& chosen = {}) {
    try {
        PartitionCall call(bound, partition, chosen);
        bound.function.partition_function(call);
        call.commit();
        return {};
    } catch (...) {
        return describe_failure(std::current_exception());
    }
}

// balance: size. A partition weighs the bytes of all its input files.
SlicePlan plan_by_size(const Pipeline& pipeline, const Unit& unit, const std::vector<std::string>& inputs,
                       const std::vector<std::string>& partitions, int slice_count) {
    std::vector<std::uint64_t> sizes(partitions.size(), 0);
    for (const auto& input : inputs) {
        const Dataset& d = pipeline.catalog().at(input);
        for (std::size_t i = 0; i < partitions.size(); ++i) {
            struct stat st {};
            if (::stat(d.partition_path(partitions[i]).c_str(), &st) == 0) sizes[i] += static_cast<std::uint64_t>(st.st_size);
        }
    }
    std::vector<std::vector<std::string>> slices;
    std::uint64_t lightest = UINT64_MAX, heaviest = 0;
    for (const auto& group : slice_by_size(sizes, slice_count)) {
        std::uint64_t bytes = 0;
        auto& names = slices.emplace_back();
        for (const std::size_t i : group) {
            names.push_back(partitions[i]);
            bytes += sizes[i];
        }
        lightest = std::min(lightest, bytes);
        heaviest = std::max(heaviest, bytes);
    }
    if (!partitions.empty())
        log(slicer_name(unit.name) + ": balanced by size, " + bytes_text(lightest) +
            (lightest == heaviest ? "" : ".." + bytes_text(heaviest)) + " of input per slice");
    return make_plan(unit.name, inputs, std::move(slices));
}

std::string slicer_log_line(const SlicePlan& plan) {
    std::size_t smallest = plan.slices.empty() ? 0 : plan.slices.front().size(), largest = 0;
    for (const auto& s : plan.slices) {
        smallest = std::min(smallest, s.size());
        largest = std::max(largest, s.size());
    }
    return slicer_name(plan.unit) + ": " + std::to_string(plan.partition_count()) + " partitions of " +
           join(plan.inputs) + " in " + std::to_string(plan.slices.size()) + " slices (" + std::to_string(smallest) +
           (smallest == largest ? "" : ".." + std::to_string(largest)) + " each)";
}

}  // namespace

SlicePlan plan_slices(const Project& project, const Unit& unit, int slice_count, const std::string& only) {
    const auto inputs = project.pipeline().external_partitioned_inputs(unit);
    const auto partitions = select_partitions(project.pipeline(), unit, zip_partitions(project.pipeline(), unit, inputs), only);
    return unit.options.balance == Balance::size ? plan_by_size(project.pipeline(), unit, inputs, partitions, slice_count)
                                                 : make_plan(unit.name, inputs, partitions, slice_count);
}

SlicePlan run_slicer(Project& project, const Unit& unit, int slice_count, bool force, const std::string& only) {
    SlicePlan plan = plan_slices(project, unit, slice_count, only);
    const fs::path path = project.state().plan(unit.name);
    create_output_folders(project.pipeline(), unit);
    if (!force) {
        try {
            std::error_code ec;
            // A part that is missing or damaged (not the size this plan writes) is written again
            // with the rest, so "rerun to re-slice" always repairs it.
            auto part_intact = [&](std::size_t i) {
                const auto size = fs::file_size(project.state().plan_part(unit.name, static_cast<int>(i)), ec);
                return !ec && size == part_json(plan, static_cast<int>(i)).size();
            };
            bool complete = fs::exists(path, ec) && read_plan_index(project.state(), unit.name).plan_id == plan.plan_id;
            for (std::size_t i = 0; complete && i < plan.slices.size(); ++i) complete = part_intact(i);
            if (complete) {
                log(slicer_log_line(plan) + ", plan unchanged");
                return plan;
            }
        } catch (const StateError& e) {
            log(std::string(e.what()) + "; writing a new plan");
        }
    }
    // A new plan: markers of the old one must never vouch for it.
    std::error_code ec;
    fs::remove_all(project.state().markers_dir(unit.name), ec);
    write_plan(project.state(), plan);
    log(slicer_log_line(plan));
    return plan;
}

namespace {

struct FileStamp {
    long long size = -1;
    long long mtime_ns = -1;  // -1/-1: missing
};

FileStamp stamp(const std::string& path) {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) return {};
    return {static_cast<long long>(st.st_size), static_cast<long long>(st.st_mtim.tv_sec) * 1000000000LL + st.st_mtim.tv_nsec};
}

nlohmann::json stamp_json(const std::string& path) {
    const FileStamp s = stamp(path);
    return nlohmann::json::array({s.size, s.mtime_ns});
}

// The files one unit reads and writes per partition, with the datasets looked up once per
// unit rather than once per partition.
class UnitFiles {
public:
    UnitFiles(const Pipeline& pipeline, const Unit& unit) {
        for (const auto& in : pipeline.external_partitioned_inputs(unit)) partitioned_inputs_.push_back(&pipeline.catalog().at(in));
        for (const auto& n : unit.nodes) {
            for (const auto& in : n.inputs)
                if (!Node::is_param(in) && !pipeline.catalog().at(in).partitioned()) whole_inputs_.push_back(pipeline.catalog().at(in).path.string());
            for (const auto& out : n.outputs) outputs_.push_back(&pipeline.catalog().at(out));
        }
    }
    /// Inputs from outside the unit for one partition: its partitioned inputs and the whole files.
    std::vector<std::string> inputs(const std::string& partition) const {
        std::vector<std::string> paths = whole_inputs_;
        for (const Dataset* d : partitioned_inputs_) paths.push_back(d->partition_path(partition));
        return paths;
    }
    /// Outputs (of every node of the unit, intermediates included) for one partition.
    std::vector<std::string> outputs(const std::string& partition) const {
        std::vector<std::string> paths;
        for (const Dataset* d : outputs_) paths.push_back(d->partition_path(partition));
        return paths;
    }
    /// make's rule: every output exists and none is older than any input.
    bool outputs_newer_than_inputs(const std::string& partition) const {
        long long newest_input = 0;
        for (const auto& in : inputs(partition)) newest_input = std::max(newest_input, stamp(in).mtime_ns);
        for (const auto& out : outputs(partition)) {
            const FileStamp s = stamp(out);
            if (s.size < 0 || s.mtime_ns < newest_input) return false;
        }
        return true;
    }

private:
    std::vector<const Dataset*> partitioned_inputs_, outputs_;
    std::vector<std::string> whole_inputs_;
};

// Records, without a sync, which partition a slice is on; one pwrite per partition.
class ProgressFile {
public:
    explicit ProgressFile(const fs::path& path) : path_(path) {
        std::error_code ec;
        fs::create_directories(path.parent_path(), ec);
        fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    }
    ~ProgressFile() {
        if (fd_ >= 0) ::close(fd_);
    }
    void at(std::size_t index) {
        if (fd_ < 0) return;
        char text[24];
        const int n = std::snprintf(text, sizeof text, "%20zu\n", index);
        if (::pwrite(fd_, text, static_cast<std::size_t>(n), 0) < 0) {
            // Progress is only for crash reports; losing it must not fail the slice.
        }
    }
    void done() {
        std::error_code ec;
        fs::remove(path_, ec);
    }

private:
    fs::path path_;
    int fd_ = -1;
};

}  // namespace

std::string fingerprint(Project& project, const Unit& unit, const SlicePart* part) {
    const Pipeline& pipeline = project.pipeline();
    nlohmann::json j;
    j["plan"] = part ? part->plan_id : "";
    if (!unit.options.configurator.empty()) j["configurator"] = pipeline.params().find(unit.options.configurator)->second;
    for (const auto& n : unit.nodes) {
        nlohmann::json node = {{"name", n.name},
                               {"function", n.function.text()},
                               {"plugin", project.plugins().digest(n.function.plugin)},
                               {"inputs", n.inputs},
                               {"outputs", n.outputs}};
        for (const auto& in : n.inputs)
            if (Node::is_param(in)) node["params"][in] = pipeline.params().find(Node::param_name(in))->second;
        j["nodes"].push_back(std::move(node));
    }
    auto& files = j["files"];
    if (part) {
        const UnitFiles unit_files(pipeline, unit);
        for (const auto& partition : part->partitions)
            for (const auto& in : unit_files.inputs(partition)) files.push_back(stamp_json(in));
    } else {
        for (const auto& n : unit.nodes)
            for (const auto& in : n.inputs) {
                if (Node::is_param(in)) continue;
                const Dataset& d = pipeline.catalog().at(in);
                if (!d.partitioned()) {
                    files.push_back(stamp_json(d.path));
                    continue;
                }
                std::error_code ec;
                if (!fs::is_directory(d.path, ec)) continue;
                for (const auto& name : list_partitions(d)) files.push_back({name, stamp_json(d.partition_path(name))});
            }
    }
    return sha256_hex(j.dump());
}

bool up_to_date(Project& project, const Unit& unit, const SlicePart* part) {
    const int slice = part ? part->slice : -1;
    const fs::path path = part ? project.state().marker(unit.name, slice) : project.state().node_marker(unit.name);
    std::optional<Marker> marker;
    try {
        marker = read_marker(path);
    } catch (const StateError&) {
        return false;  // a corrupt marker proves nothing: run again
    }
    if (!marker || !marker->success || marker->unit != unit.name || marker->slice != slice) return false;
    if (part && (marker->plan_id != part->plan_id || marker->partitions != part->partitions)) return false;
    if (marker->fingerprint != fingerprint(project, unit, part)) return false;
    const Pipeline& pipeline = project.pipeline();
    if (part) {
        const UnitFiles unit_files(pipeline, unit);
        for (const auto& partition : marker->partitions)
            for (const auto& out : unit_files.outputs(partition))
                if (stamp(out).size < 0) return false;
    } else {
        for (const auto& out : unit.nodes.front().outputs) {
            const Dataset& d = pipeline.catalog().at(out);
            std::error_code ec;
            if (d.partitioned() ? !fs::is_directory(d.path, ec) : !fs::exists(d.path, ec)) return false;
        }
        for (const auto& p : marker->partitions)
            for (const auto& out : unit.nodes.front().outputs)
                if (stamp(pipeline.catalog().at(out).partition_path(p)).size < 0) return false;
    }
    return true;
}

std::string partition_in_progress(const Project& project, const Unit& unit, int slice) {
    try {
        const std::string text = read_file(project.state().progress(unit.name, slice));
        const auto index = std::stoull(text);
        const auto partitions = read_slice_part(project.state(), unit.name, slice).partitions;
        return index < partitions.size() ? partitions[index] : std::string();
    } catch (const std::exception&) {
        return {};
    }
}

void run_slice(Project& project, const Unit& unit, int slice, const ExecutionOptions& options) {
    const auto started = std::chrono::steady_clock::now();
    const SlicePart part = read_slice_part(project.state(), unit.name, slice);  // only this slice's share
    const auto& partitions = part.partitions;

    Marker marker;
    marker.unit = unit.name;
    marker.slice = slice;
    marker.plan_id = part.plan_id;
    marker.fingerprint = fingerprint(project, unit, &part);
    marker.pid = static_cast<long>(::getpid());
    marker.host = host_name();
    for (const auto& n : unit.nodes) marker.outputs.insert(marker.outputs.end(), n.outputs.begin(), n.outputs.end());
    const fs::path marker_path = project.state().marker(unit.name, slice);
    std::error_code ec;
    fs::remove(marker_path, ec);  // a stale marker must never outlive a new attempt

    std::deque<BoundNode> chain;
    for (const auto& n : unit.nodes) chain.emplace_back(project, n);
    const ConfiguratorSet* configurators = project.pipeline().configurators(unit);
    std::map<std::string, std::size_t> configurator_use;
    ProgressFile progress(project.state().progress(unit.name, slice));
    const UnitFiles unit_files(project.pipeline(), unit);
    std::size_t skipped = 0;
    for (std::size_t index = 0; index < partitions.size(); ++index) {
        const std::string& partition = partitions[index];
        progress.at(index);
        report_progress(index, partitions.size());
        if (options.only_missing && unit_files.outputs_newer_than_inputs(partition)) {
            ++skipped;
            marker.partitions.push_back(partition);
            continue;
        }
        Chosen chosen;
        std::optional<JsonFields> configuration;
        if (configurators) {
            chosen.configurator = configurators->choose(partition);
            chosen.fields = &configuration.emplace(JsonFields::of_configuration(chosen.configurator));
            chosen.name = chosen.configurator ? chosen.configurator->name : "";
            ++configurator_use[chosen.configurator ? "'" + chosen.name + "'" : "none"];
        }
        for (std::size_t k = 0; k < chain.size(); ++k) {
            const std::string error = call_partition_function(chain[k], partition, chosen);
            if (error.empty()) continue;
            marker.success = false;
            marker.failed_partition = partition;
            marker.message = "node '" + unit.nodes[k].name + "': " + error;
            marker.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
            write_marker(marker_path, marker);
            progress.done();
            throw NodeError(slice_name(unit.name, slice) + " failed on partition '" + partition + "': " + marker.message);
        }
        marker.partitions.push_back(partition);
    }
    report_progress(partitions.size(), partitions.size());
    if (skipped) log(slice_name(unit.name, slice) + ": " + std::to_string(skipped) + " partition(s) already up to date");
    if (!configurator_use.empty()) {
        std::vector<std::string> uses;
        for (const auto& [name, n] : configurator_use) uses.push_back("configurator " + name + " for " + std::to_string(n));
        log(slice_name(unit.name, slice) + ": " + join(uses));
    }
    // Outputs reach the disk before the marker that vouches for them (one sync per slice).
    for (const auto& out : marker.outputs) sync_filesystem(project.pipeline().catalog().at(out).path);
    marker.success = true;
    marker.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    write_marker(marker_path, marker);
    progress.done();
}

void check_barrier(const Project& project, const Unit& unit) {
    const PlanIndex plan = read_plan_index(project.state(), unit.name);
    std::vector<std::string> problems;
    for (std::size_t i = 0; i < plan.slice_sizes.size(); ++i) {
        const int slice = static_cast<int>(i);
        const auto path = project.state().marker(unit.name, slice);
        std::optional<Marker> marker;
        try {
            marker = read_marker(path);
        } catch (const StateError& e) {
            problems.push_back("slice " + std::to_string(i) + ": " + e.what());
            continue;
        }
        if (!marker) {
            problems.push_back("slice " + std::to_string(i) + ": no marker (the slice did not finish)");
        } else if (marker->unit != unit.name || marker->slice != slice || marker->plan_id != plan.plan_id) {
            problems.push_back("slice " + std::to_string(i) + ": marker belongs to another plan (stale)");
        } else if (!marker->success) {
            problems.push_back("slice " + std::to_string(i) + " failed on partition '" + marker->failed_partition +
                               "': " + marker->message);
        } else if (marker->partitions.size() != plan.slice_sizes[i]) {
            problems.push_back("slice " + std::to_string(i) + ": marker lists other partitions than the plan");
        }
    }
    if (!problems.empty())
        throw NodeError(barrier_name(unit.name) + ": " + std::to_string(problems.size()) + " of " +
                        std::to_string(plan.slice_sizes.size()) + " slice(s) did not succeed: " + join(problems, "; "));
    log(barrier_name(unit.name) + ": all " + std::to_string(plan.slice_sizes.size()) + " slices done");
}

void run_node(Project& project, const Unit& unit, const ExecutionOptions& options) {
    const auto started = std::chrono::steady_clock::now();
    const Node& node = unit.nodes.front();
    const JsonFields params = JsonFields::of_node(project.pipeline(), node);
    create_output_folders(project.pipeline(), unit);
    Marker marker;
    marker.unit = unit.name;
    marker.fingerprint = fingerprint(project, unit, nullptr);
    marker.pid = static_cast<long>(::getpid());
    marker.host = host_name();
    marker.outputs = node.outputs;
    const fs::path marker_path = project.state().node_marker(unit.name);
    std::error_code ec;
    fs::remove(marker_path, ec);

    const NodeDescriptor& fn = project.function(node);
    if (fn.kind == NodeKind::partition) {
        const auto partitions = zip_partitions(project.pipeline(), unit, project.pipeline().external_partitioned_inputs(unit));
        const BoundNode bound(project, node);
        const UnitFiles unit_files(project.pipeline(), unit);
        for (const auto& partition : partitions) {
            report_progress(marker.partitions.size(), partitions.size());
            if (!(options.only_missing && unit_files.outputs_newer_than_inputs(partition)))
                if (const auto error = call_partition_function(bound, partition); !error.empty())
                    throw NodeError("node '" + node.name + "' failed on partition '" + partition + "': " + error);
            marker.partitions.push_back(partition);
        }
        report_progress(partitions.size(), partitions.size());
        log("node '" + node.name + "': " + std::to_string(partitions.size()) + " partitions done");
    } else {
        try {
            WholeCall call(project.pipeline(), node, params);
            fn.whole_function(call);
            call.commit();
        } catch (...) {
            throw NodeError("node '" + node.name + "' failed: " + describe_failure(std::current_exception()));
        }
        log("node '" + node.name + "' done");
    }
    for (const auto& out : node.outputs) {
        const Dataset& d = project.pipeline().catalog().at(out);
        sync_filesystem(d.partitioned() ? d.path : d.path.parent_path());
    }
    marker.success = true;
    marker.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    write_marker(marker_path, marker);
}

}  // namespace steppar
