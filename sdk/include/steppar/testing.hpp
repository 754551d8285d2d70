// Unit tests for nodes without the engine: in-memory stand-ins for both contexts. Feed a node
// its inputs, params and configuration, call it as a plain function, then read what it wrote
// and logged. Inputs are written to a temporary folder (nodes read files by path); outputs are
// kept in memory. Header-only.
//
//   steppar::testing::FakePartitionContext ctx("2024/05");
//   ctx.add_input("alpha beta\n");
//   ctx.params().set("min_length", 5);
//   histogram(ctx);
//   assert(ctx.output_text() == "4 1\n5 1\n");
#pragma once

#include <steppar/sdk.hpp>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace steppar::testing {

/// Params (and configuration data) given by the test: numbers, text, booleans, or any JSON.
class FakeParams : public Params {
public:
    /// Sets a whole number.
    FakeParams& set(const std::string& name, long long value) { return put(name, std::to_string(value), Type::integer); }
    /// Sets a whole number.
    FakeParams& set(const std::string& name, int value) { return set(name, static_cast<long long>(value)); }
    /// Sets a number.
    FakeParams& set(const std::string& name, double value) {
        std::ostringstream text;
        text.precision(17);
        text << value;
        return put(name, text.str(), Type::number);
    }
    /// Sets a text value.
    FakeParams& set(const std::string& name, const std::string& value) { return put(name, quoted(value), Type::text, value); }
    /// Sets a text value.
    FakeParams& set(const std::string& name, const char* value) { return set(name, std::string(value)); }
    /// Sets a boolean.
    FakeParams& set(const std::string& name, bool value) { return put(name, value ? "true" : "false", Type::boolean); }
    /// Sets any value as JSON text (a list, a mapping): read back with json().
    FakeParams& set_json(const std::string& name, const std::string& json_text) { return put(name, json_text, Type::json); }

    /// The value as JSON text; throws for an unknown name.
    std::string json(std::string_view name) const override { return at(name).json; }
    /// Whether the test set it.
    bool has(std::string_view name) const override { return values_.count(std::string(name)) > 0; }
    /// A whole number; throws for another type.
    long long integer(std::string_view name) const override { return std::stoll(typed(name, Type::integer).json); }
    /// A number (a whole number too); throws for another type.
    double number(std::string_view name) const override {
        const Value& v = at(name);
        if (v.type != Type::number && v.type != Type::integer) mismatch(name, "a number");
        return std::stod(v.json);
    }
    /// Text; throws for another type.
    std::string text(std::string_view name) const override { return typed(name, Type::text).text; }
    /// A boolean; throws for another type.
    bool boolean(std::string_view name) const override { return typed(name, Type::boolean).json == "true"; }

private:
    enum class Type { integer, number, text, boolean, json };
    struct Value {
        std::string json, text;
        Type type;
    };
    FakeParams& put(const std::string& name, std::string json, Type type, std::string text = {}) {
        values_[name] = Value{std::move(json), std::move(text), type};
        return *this;
    }
    const Value& at(std::string_view name) const {
        const auto it = values_.find(std::string(name));
        if (it == values_.end()) throw std::runtime_error("no parameter '" + std::string(name) + "'");
        return it->second;
    }
    const Value& typed(std::string_view name, Type type) const {
        const Value& v = at(name);
        if (v.type != type) mismatch(name, type == Type::integer ? "a whole number" : type == Type::text ? "text" : "a boolean");
        return v;
    }
    [[noreturn]] static void mismatch(std::string_view name, const char* wanted) {
        throw std::runtime_error("parameter '" + std::string(name) + "' is not " + wanted);
    }
    static std::string quoted(const std::string& text) {
        std::string out = "\"";
        for (const char c : text) {
            if (c == '"' || c == '\\') out += '\\';
            out += c;
        }
        return out + "\"";
    }
    std::map<std::string, Value> values_;
};

/// An output kept in memory.
class FakeOutput : public OutputFile {
public:
    /// An output called `path` in messages.
    explicit FakeOutput(std::string path) : path_(std::move(path)) {}
    /// The name it was given (no file is written).
    const std::string& path() const override { return path_; }
    /// Where the node writes.
    std::ostream& stream() override { return text_; }
    /// What the node wrote.
    std::string text() const { return text_.str(); }

private:
    std::string path_;
    std::ostringstream text_;
};

/// One line a node logged.
struct LoggedLine {
    LogLevel level;       ///< info (ctx.log) or warning (ctx.warn)
    std::string message;  ///< what it said
};

/// The counters a node reported with count(), by name.
class FakeCounters {
public:
    /// Adds `n` to `name`, refusing a name the host would refuse.
    void add(std::string_view name, long long n) {
        if (!is_counter_name(name)) throw std::invalid_argument("counter name '" + std::string(name) + "' must be 1 to 64 letters, digits, '_', '-' or '.'");
        values_[std::string(name)] += n;
    }
    /// The counter's value (0 when never counted).
    long long value(const std::string& name) const {
        const auto it = values_.find(name);
        return it == values_.end() ? 0 : it->second;
    }
    /// Every counter, by name.
    const std::map<std::string, long long>& values() const { return values_; }

private:
    std::map<std::string, long long> values_;
};

/// A folder for a test's input files, removed with everything in it.
class TemporaryFolder {
public:
    /// Makes a fresh folder under TMPDIR (or /tmp).
    TemporaryFolder() {
        const char* base = std::getenv("TMPDIR");
        std::string pattern = std::string(base && *base ? base : "/tmp") + "/steppar-node-test-XXXXXX";
        if (!::mkdtemp(pattern.data())) throw std::runtime_error("cannot make a temporary folder in " + pattern);
        path_ = pattern;
    }
    /// Removes it.
    ~TemporaryFolder() {
        std::error_code ec;
        std::filesystem::remove_all(path_, ec);
    }
    TemporaryFolder(const TemporaryFolder&) = delete;             ///< one owner
    TemporaryFolder& operator=(const TemporaryFolder&) = delete;  ///< one owner
    /// Writes `content` to a new file in the folder and returns its path.
    std::string write(const std::string& content) {
        const std::string file = path_ + "/input-" + std::to_string(++count_);
        std::ofstream out(file, std::ios::binary);
        out << content;
        if (!out) throw std::runtime_error("cannot write " + file);
        return file;
    }

private:
    std::string path_;
    int count_ = 0;
};

/// A PartitionContext for unit tests: one partition, the inputs, params and configuration the
/// test gives, outputs and log lines kept for the test to read.
class FakePartitionContext : public PartitionContext {
public:
    /// The partition `name`, with one output until set_outputs() says otherwise.
    explicit FakePartitionContext(std::string name = "partition") : partition_(std::move(name)) { set_outputs(1); }

    /// Adds a partitioned input holding `content` (input(0), input(1), ... in this order).
    FakePartitionContext& add_input(const std::string& content) {
        inputs_.emplace_back(folder_.write(content));
        return *this;
    }
    /// Adds a file input (a lookup table) holding `content` (file(0), ...).
    FakePartitionContext& add_file(const std::string& content) {
        files_.emplace_back(folder_.write(content));
        return *this;
    }
    /// How many outputs the node writes.
    FakePartitionContext& set_outputs(std::size_t count) {
        outputs_.clear();
        for (std::size_t i = 0; i < count; ++i) outputs_.push_back(std::make_unique<FakeOutput>("output " + std::to_string(i)));
        skipped_.assign(count, 0);
        return *this;
    }
    /// The params, to set before calling the node.
    FakeParams& params() { return params_; }
    /// The configuration data, to set before calling the node.
    FakeParams& configuration() { return configuration_; }
    /// The configurator's name the node sees.
    FakePartitionContext& set_configurator(std::string name) {
        configurator_ = std::move(name);
        return *this;
    }
    /// The slice the node sees itself in (slice 0 of 1 until set).
    FakePartitionContext& set_slice(int slice, int slice_count) {
        slice_ = slice;
        slice_count_ = slice_count;
        return *this;
    }

    /// What the node wrote to output `i`.
    std::string output_text(std::size_t i = 0) const { return outputs_.at(i)->text(); }
    /// Whether the node skipped output `i` (no file would be made).
    bool skipped(std::size_t i = 0) const { return skipped_.at(i) != 0; }
    /// Every line the node logged, in order.
    const std::vector<LoggedLine>& logged() const { return logged_; }
    /// The counters the node reported.
    const FakeCounters& counters() const { return counters_; }

    /// The partition's name.
    const std::string& partition() const override { return partition_; }
    /// Partitioned input `i`.
    const InputFile& input(std::size_t i = 0) const override { return inputs_.at(i); }
    /// How many partitioned inputs were added.
    std::size_t input_count() const override { return inputs_.size(); }
    /// File input `i`.
    const InputFile& file(std::size_t i = 0) const override { return files_.at(i); }
    /// How many file inputs were added.
    std::size_t file_count() const override { return files_.size(); }
    /// Output `i`.
    OutputFile& output(std::size_t i = 0) override { return *outputs_.at(i); }
    /// How many outputs there are.
    std::size_t output_count() const override { return outputs_.size(); }
    /// The params (read side).
    const Params& params() const override { return params_; }
    /// The configuration data (read side).
    const Params& configuration() const override { return configuration_; }
    /// The configurator's name ("" for none).
    const std::string& configurator() const override { return configurator_; }
    /// The slice set with set_slice().
    int slice() const override { return slice_; }
    /// The slice count set with set_slice().
    int slice_count() const override { return slice_count_; }
    /// Marks output `i` skipped (see skipped()).
    void skip_output(std::size_t i = 0) override { skipped_.at(i) = 1; }
    /// Adds to a counter (see counters()).
    void count(std::string_view name, long long n = 1) override { counters_.add(name, n); }
    /// Keeps a log line.
    void write_log(LogLevel level, std::string_view message) override { logged_.push_back({level, std::string(message)}); }

private:
    TemporaryFolder folder_;
    std::string partition_, configurator_;
    int slice_ = 0, slice_count_ = 1;
    std::vector<InputFile> inputs_, files_;
    std::vector<std::unique_ptr<FakeOutput>> outputs_;
    std::vector<char> skipped_;
    FakeParams params_, configuration_;
    std::vector<LoggedLine> logged_;
    FakeCounters counters_;
};

/// An input dataset of a FakeWholeContext: one file, or partitions.
class FakeDataset : public InputDataset {
public:
    /// A dataset called `name`.
    FakeDataset(std::string name, bool partitioned) : name_(std::move(name)), partitioned_(partitioned) {}
    /// Its name.
    const std::string& name() const override { return name_; }
    /// Whether it holds partitions.
    bool partitioned() const override { return partitioned_; }
    /// Its file (a file dataset).
    const InputFile& file() const override { return file_; }
    /// Its partitions, sorted by name (a partitioned dataset).
    const std::vector<PartitionFile>& partitions() const override { return partitions_; }

private:
    friend class FakeWholeContext;
    std::string name_;
    bool partitioned_;
    InputFile file_;
    std::vector<PartitionFile> partitions_;
};

/// A WholeContext for unit tests: datasets the test gives, outputs (and output partitions) kept.
class FakeWholeContext : public WholeContext {
public:
    /// One output until set_outputs() says otherwise.
    FakeWholeContext() { set_outputs(1); }

    /// Adds a file dataset holding `content`.
    FakeWholeContext& add_file_input(const std::string& name, const std::string& content) {
        auto d = std::make_unique<FakeDataset>(name, false);
        d->file_ = InputFile(folder_.write(content));
        inputs_.push_back(std::move(d));
        return *this;
    }
    /// Adds a partitioned dataset: partition name -> content.
    FakeWholeContext& add_partitioned_input(const std::string& name, const std::map<std::string, std::string>& partitions) {
        auto d = std::make_unique<FakeDataset>(name, true);
        for (const auto& [partition, content] : partitions) d->partitions_.push_back({partition, InputFile(folder_.write(content))});
        inputs_.push_back(std::move(d));
        return *this;
    }
    /// How many outputs the node writes.
    FakeWholeContext& set_outputs(std::size_t count) {
        outputs_.clear();
        partitions_.clear();
        partitions_.resize(count);
        for (std::size_t i = 0; i < count; ++i) outputs_.push_back(std::make_unique<FakeOutput>("output " + std::to_string(i)));
        return *this;
    }
    /// The params, to set before calling the node.
    FakeParams& params() { return params_; }

    /// What the node wrote to output `i`.
    std::string output_text(std::size_t i = 0) const { return outputs_.at(i)->text(); }
    /// What the node wrote to partition `name` of output `i`; throws when it wrote none.
    std::string output_partition_text(std::size_t i, const std::string& name) const { return partitions_.at(i).at(name)->text(); }
    /// The partitions the node wrote to output `i`, by name.
    std::vector<std::string> output_partitions(std::size_t i = 0) const {
        std::vector<std::string> names;
        for (const auto& [name, _] : partitions_.at(i)) names.push_back(name);
        return names;
    }
    /// Every line the node logged, in order.
    const std::vector<LoggedLine>& logged() const { return logged_; }
    /// The counters the node reported.
    const FakeCounters& counters() const { return counters_; }

    /// Input dataset `i`.
    const InputDataset& input(std::size_t i = 0) const override { return *inputs_.at(i); }
    /// How many datasets were added.
    std::size_t input_count() const override { return inputs_.size(); }
    /// Output `i`.
    OutputFile& output(std::size_t i = 0) override { return *outputs_.at(i); }
    /// Partition `name` of output `i` (made on first use).
    OutputFile& output_partition(std::size_t i, std::string_view name) override {
        auto& slot = partitions_.at(i)[std::string(name)];
        if (!slot) slot = std::make_unique<FakeOutput>("output " + std::to_string(i) + " partition " + std::string(name));
        return *slot;
    }
    /// How many outputs there are.
    std::size_t output_count() const override { return outputs_.size(); }
    /// The params (read side).
    const Params& params() const override { return params_; }
    /// Adds to a counter (see counters()).
    void count(std::string_view name, long long n = 1) override { counters_.add(name, n); }
    /// Keeps a log line.
    void write_log(LogLevel level, std::string_view message) override { logged_.push_back({level, std::string(message)}); }

private:
    TemporaryFolder folder_;
    std::vector<std::unique_ptr<FakeDataset>> inputs_;
    std::vector<std::unique_ptr<FakeOutput>> outputs_;
    std::vector<std::map<std::string, std::unique_ptr<FakeOutput>>> partitions_;
    FakeParams params_;
    std::vector<LoggedLine> logged_;
    FakeCounters counters_;
};

/// A SliceContext for testing a plugin's setup and teardown functions (call them directly).
class FakeSliceContext : public SliceContext {
public:
    /// Slice `slice` of `slice_count` of the unit `unit`.
    explicit FakeSliceContext(std::string unit = "unit", int slice = 0, int slice_count = 1)
        : unit_(std::move(unit)), step_(unit_ + "-slice-" + std::to_string(slice)), slice_(slice), slice_count_(slice_count) {}
    /// The params, to set before calling the function.
    FakeParams& params() { return params_; }
    /// Every line the function logged, in order.
    const std::vector<LoggedLine>& logged() const { return logged_; }

    /// The step's name ("unit-slice-N").
    const std::string& step() const override { return step_; }
    /// The unit's name.
    const std::string& unit() const override { return unit_; }
    /// The slice.
    int slice() const override { return slice_; }
    /// The slice count.
    int slice_count() const override { return slice_count_; }
    /// The params (read side).
    const Params& params() const override { return params_; }
    /// Keeps a log line.
    void write_log(LogLevel level, std::string_view message) override { logged_.push_back({level, std::string(message)}); }

private:
    std::string unit_, step_;
    int slice_, slice_count_;
    FakeParams params_;
    std::vector<LoggedLine> logged_;
};

}  // namespace steppar::testing
