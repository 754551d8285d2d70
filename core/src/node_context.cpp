#include "node_context.hpp"

#include "steppar/events.hpp"
#include "steppar/files.hpp"
#include "steppar/log.hpp"

#include <climits>

namespace steppar {

void node_log(LogLevel level, std::string_view text, std::string_view node, std::string_view partition) {
    if (level == LogLevel::info && quiet()) return;
    Message m;
    m.level = level == LogLevel::warning ? LogLevel::warning : LogLevel::info;  // a node says an error by throwing
    m.origin = Origin::node;
    m.text = text;
    m.node = node;
    m.partition = partition;
    events().message(m);
}

void Metrics::add(std::string_view name, long long n) {
    auto it = values_.find(name);
    if (it == values_.end()) {  // a new name: checked once
        if (!is_counter_name(name))
            throw std::invalid_argument("counter name '" + std::string(name).substr(0, 80) +
                                        "' must be 1 to 64 letters, digits, '_', '-' or '.'");
        it = values_.emplace(std::string(name), 0).first;
    }
    if (__builtin_add_overflow(it->second, n, &it->second))
        throw std::overflow_error("counter '" + std::string(name) + "' overflows a 64-bit integer");
}

namespace {
// A skipped output partition must not exist afterwards: one an earlier run made is removed.
void remove_skipped(const Dataset& dataset, const std::string& path) {
    if (stamp_of(path).exists()) remove_file_and_empty_folders(path, dataset.path);
}
}  // namespace

void PartitionCall::commit() {
    for (std::size_t i = 0; i < outputs_.size(); ++i) {
        if (skipped_[i]) {
            remove_skipped(*output_datasets_[i], outputs_[i].path());
            ++place_.skipped;
        } else {
            outputs_[i].commit();
        }
    }
}

void skip_partition_outputs(const BoundNode& bound, const std::string& partition, FileStamp* stamps) {
    for (const Dataset* d : bound.outputs) {
        remove_skipped(*d, d->partition_path(partition));
        ++bound.place.skipped;
        if (stamps) *stamps++ = FileStamp{};
    }
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

std::string call_partition_function(const BoundNode& bound, const std::string& partition, const Chosen& chosen, FileStamp* stamps) {
    try {
        PartitionCall call(bound, partition, chosen);
        bound.function.partition_function(call);
        call.commit();
        if (stamps) call.stamps(stamps);
        return {};
    } catch (...) {
        return describe_failure(std::current_exception());
    }
}

}  // namespace steppar
