// The two Python functions of kedro/pipeline.py as steppar nodes. Sales files are CSV with a
// header line "item,amount"; amounts are kept in cents so that the total is exact.
#include <steppar/sdk.hpp>

#include <cmath>
#include <cstdio>
#include <sstream>
#include <string>

namespace {

long long cents_of(const std::string& text) { return std::llround(std::stod(text) * 100); }

std::string amount_text(long long cents) {
    char buffer[32];
    std::snprintf(buffer, sizeof buffer, "%s%lld.%02lld", cents < 0 ? "-" : "", std::llabs(cents) / 100, std::llabs(cents) % 100);
    return buffer;
}

}  // namespace

// clean_sales(sales, config): rows under the partition's min_amount go, amounts are converted
// with its fx_rate. The configurator's data arrives as ctx.configuration().
void clean_sales(steppar::PartitionContext& ctx) {
    const double min_amount = ctx.configuration().number("min_amount");
    const double fx_rate = ctx.configuration().number("fx_rate");
    std::istringstream rows(ctx.input().read_text());
    std::ostream& out = ctx.output().stream();
    std::string line;
    std::getline(rows, line);  // the header
    out << "item,amount\n";
    while (std::getline(rows, line)) {
        const auto comma = line.find(',');
        if (comma == std::string::npos) continue;
        const long long cents = cents_of(line.substr(comma + 1));
        if (cents < std::llround(min_amount * 100)) continue;
        out << line.substr(0, comma) << ',' << amount_text(std::llround(static_cast<double>(cents) * fx_rate)) << '\n';
    }
}
STEPPAR_NODE(clean_sales)

// sales_total(clean): one line over every cleaned partition.
void sales_total(steppar::WholeContext& ctx) {
    long long partitions = 0, rows = 0, cents = 0;
    for (const auto& part : ctx.input().partitions()) {
        ++partitions;
        std::istringstream lines(part.file.read_text());
        std::string line;
        std::getline(lines, line);
        while (std::getline(lines, line)) {
            ++rows;
            cents += cents_of(line.substr(line.find(',') + 1));
        }
    }
    ctx.output().stream() << "partitions,rows,amount\n" << partitions << ',' << rows << ',' << amount_text(cents) << '\n';
}
STEPPAR_NODE(sales_total)
