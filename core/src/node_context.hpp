// The SDK's contexts (sdk.hpp) implemented over files: what a node function sees when a slice
// or plain node calls it. Internal to the core: only slice_execution.cpp calls nodes.
//
//   BoundNode bound(project, node);                  // function, params, datasets: once per slice
//   std::string error = call_partition_function(bound, "2024/05/orders", chosen);  // "" = success
//
// Outputs are AtomicFiles: a partition's outputs appear (renamed into place) only when the
// function returned normally; when it throws, nothing of that call is left.
#pragma once

#include "steppar/atomic_file.hpp"
#include "steppar/catalog.hpp"
#include "steppar/configurator.hpp"
#include "steppar/project.hpp"

#include <nlohmann/json.hpp>

#include <deque>
#include <exception>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace steppar {

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
    const FileStamp& stamp() const noexcept { return file_.stamp(); }

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

/// A step's counters (ctx.count()): summed over every call of the step, written to its marker.
class Metrics {
public:
    /// Adds `n` to `name`; throws std::invalid_argument for a name that is not 1-64 of
    /// [A-Za-z0-9_.-], std::overflow_error when the sum would not fit.
    void add(std::string_view name, long long n);
    /// The counters as a marker keeps them.
    std::map<std::string, long long> values() const { return {values_.begin(), values_.end()}; }

private:
    // Transparent: a node may count per record, so a known name is found without a string copy.
    std::map<std::string, long long, std::less<>> values_;
};

/// Where a step's calls run: its slice, and the counters they add to.
struct StepPlace {
    int slice = 0;
    int slice_count = 1;
    Metrics metrics;
    std::size_t skipped = 0;  ///< output partitions nodes skipped (ctx.skip_output())
};

/// A node's ctx.log()/ctx.warn(): a line in the run's log, attributed to the node and partition.
void node_log(LogLevel level, std::string_view text, std::string_view node, std::string_view partition);

/// A partition node with everything a call needs looked up once per slice: its function, its
/// params and its datasets (a slice may call it a million times).
struct BoundNode {
    BoundNode(Project& project, const Node& n, StepPlace& where)
        : node(n), function(project.function(n)), params(JsonFields::of_node(project.pipeline(), n)), place(where) {
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
    StepPlace& place;
    std::vector<const Dataset*> partitioned_inputs, file_inputs, outputs;
};

class PartitionCall final : public PartitionContext {
public:
    PartitionCall(const BoundNode& bound, const std::string& partition, const Chosen& chosen)
        : node_(bound.node.name), partition_(partition), params_(bound.params), chosen_(chosen), place_(bound.place),
          output_datasets_(bound.outputs), skipped_(bound.outputs.size()) {
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
    int slice() const override { return place_.slice; }
    int slice_count() const override { return place_.slice_count; }
    void skip_output(std::size_t i) override { checked_at(skipped_, i, "output") = 1; }
    void count(std::string_view name, long long n) override { place_.metrics.add(name, n); }
    void write_log(LogLevel level, std::string_view message) override { node_log(level, message, node_, partition_); }
    /// Renames the written outputs into place; a skipped one is dropped, and removed where an
    /// earlier run made it.
    void commit();
    /// After commit(): the stamp of each output, in order (a skipped one: missing).
    void stamps(FileStamp* out) const {
        for (std::size_t i = 0; i < outputs_.size(); ++i) *out++ = skipped_[i] ? FileStamp{} : outputs_[i].stamp();
    }

private:
    const std::string& node_;
    const std::string& partition_;
    const JsonFields& params_;
    const Chosen& chosen_;
    StepPlace& place_;
    const std::vector<const Dataset*>& output_datasets_;
    std::vector<char> skipped_;
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
    WholeCall(const Pipeline& pipeline, const Node& node, const JsonFields& params, Metrics& metrics)
        : node_(node.name), params_(params), metrics_(metrics) {
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
        if (partition.empty() || partition.front() == '/' || std::filesystem::path(partition).lexically_normal().string().rfind("..", 0) == 0)
            throw std::invalid_argument("partition name '" + std::string(partition) + "' must be a relative path inside the dataset");
        return open(outputs_[i]->partition_path(partition));
    }
    std::size_t output_count() const override { return outputs_.size(); }
    const Params& params() const override { return params_; }
    void count(std::string_view name, long long n) override { metrics_.add(name, n); }
    void write_log(LogLevel level, std::string_view message) override { node_log(level, message, node_, {}); }
    void commit() {
        for (auto& [_, out] : opened_) out->commit();
    }
    /// The files it opened for writing (all written once commit() returns).
    std::vector<std::string> written() const {
        std::vector<std::string> paths;
        for (const auto& [path, _] : opened_) paths.push_back(path);
        return paths;
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
    Metrics& metrics_;
    std::vector<std::unique_ptr<WholeInput>> inputs_;
    std::vector<const Dataset*> outputs_;
    std::map<std::string, std::unique_ptr<Output>> opened_;
};


/// The message of a failure caught while calling a node.
std::string describe_failure(const std::exception_ptr& failure);

/// Runs `node` on one partition; returns an error message, or "" on success. `stamps` (when
/// given) receives the stamps of its outputs as written, in the node's output order (a skipped
/// output: missing).
std::string call_partition_function(const BoundNode& bound, const std::string& partition, const Chosen& chosen = {},
                                    FileStamp* stamps = nullptr);

/// For a node of a chain that is not called on `partition` because an earlier node skipped
/// what it reads: its outputs are skipped too (removed where an earlier run made them), as a
/// run of the nodes one after another would leave them. Fills `stamps` like the call would.
void skip_partition_outputs(const BoundNode& bound, const std::string& partition, FileStamp* stamps);

}  // namespace steppar
