// CatalogFamily: a prometheus-cpp metric family made from a catalog entry. Creating one checks
// that the catalog has the name, with this type, for this component; adding a series checks that
// its label names are exactly the catalog's and gives histograms the catalog's buckets. So a
// process cannot export a metric, or a label, that the catalog (and docs/metrics.md) lacks.
//
// A CatalogFamily is a cheap handle; the Registry owns the family and must outlive it. Families
// are thread-safe (prometheus-cpp locks them), and so are these handles.
#pragma once

#include <string_view>

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/labels.h>
#include <prometheus/registry.h>

#include "common/metrics/metrics_catalog.h"

namespace gradpool::metrics {

template <typename Metric>  // prometheus::Counter, Gauge or Histogram
class CatalogFamily {
 public:
  // The family `name` in `registry` (made on first use, shared after). Error when `name` is not
  // in the catalog, is another type, or is not produced by `component`.
  CatalogFamily(prometheus::Registry& registry, Component component, std::string_view name);

  // The series with these labels, made at zero on first use. Error naming the metric when the
  // label names differ from the catalog's.
  Metric& with(const prometheus::Labels& labels);

  // Drops the series with these labels, if there is one.
  void remove(const prometheus::Labels& labels);

  const MetricSpec& spec() const { return *spec_; }

 private:
  const MetricSpec* spec_;
  prometheus::Family<Metric>* family_;
};

using CounterFamily = CatalogFamily<prometheus::Counter>;
using GaugeFamily = CatalogFamily<prometheus::Gauge>;
using HistogramFamily = CatalogFamily<prometheus::Histogram>;

extern template class CatalogFamily<prometheus::Counter>;
extern template class CatalogFamily<prometheus::Gauge>;
extern template class CatalogFamily<prometheus::Histogram>;

}  // namespace gradpool::metrics
