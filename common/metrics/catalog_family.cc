#include "common/metrics/catalog_family.h"

#include <algorithm>
#include <type_traits>

#include <fmt/ranges.h>

#include "common/error.h"

namespace gradpool::metrics {
namespace {

template <typename Metric>
constexpr MetricType metric_type() {
  if constexpr (std::is_same_v<Metric, prometheus::Counter>) return MetricType::kCounter;
  if constexpr (std::is_same_v<Metric, prometheus::Gauge>) return MetricType::kGauge;
  return MetricType::kHistogram;
}

std::vector<std::string> label_names(const prometheus::Labels& labels) {
  std::vector<std::string> names;
  for (const auto& [name, value] : labels) names.push_back(name);
  return names;  // sorted: Labels is a std::map
}

}  // namespace

template <typename Metric>
CatalogFamily<Metric>::CatalogFamily(prometheus::Registry& registry, Component component,
                                     std::string_view name)
    : spec_(&find_metric(name)) {
  if (spec_->type != metric_type<Metric>())
    fail("metric '{}' is a {} in the metrics catalog, not a {}", name, type_name(spec_->type),
         type_name(metric_type<Metric>()));
  if (!spec_->produced_by(component))
    fail("metric '{}' is not exported by the {} (metrics catalog)", name,
         component_name(component));
  family_ =
      &prometheus::detail::Builder<Metric>().Name(spec_->name).Help(spec_->help).Register(registry);
}

template <typename Metric>
Metric& CatalogFamily<Metric>::with(const prometheus::Labels& labels) {
  std::vector<std::string> expected = spec_->labels;
  std::sort(expected.begin(), expected.end());
  if (label_names(labels) != expected)
    fail("metric '{}': labels {{{}}} given, the metrics catalog says {{{}}}", spec_->name,
         fmt::join(label_names(labels), ", "), fmt::join(spec_->labels, ", "));
  if constexpr (std::is_same_v<Metric, prometheus::Histogram>) {
    return family_->Add(labels, spec_->buckets);
  } else {
    return family_->Add(labels);
  }
}

template <typename Metric>
void CatalogFamily<Metric>::remove(const prometheus::Labels& labels) {
  if (family_->Has(labels)) family_->Remove(&with(labels));
}

template class CatalogFamily<prometheus::Counter>;
template class CatalogFamily<prometheus::Gauge>;
template class CatalogFamily<prometheus::Histogram>;

}  // namespace gradpool::metrics
