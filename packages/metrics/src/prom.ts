// The prom-client adapter of @meshless/metrics: the one file that names the library. The
// families of this package are our own metric objects that a prom-client Registry scrapes; from
// prom-client itself we need only the registry, the gauge and their types.

export {
  Gauge,
  type Metric,
  type OpenMetricsContentType,
  type PrometheusContentType,
  Registry,
} from 'prom-client';
