# Coordinator jobs, workers, rendezvous and API wiring: included from CMakeLists.txt here.
gradpool_test(job_store_test SOURCES job_store_test.cc LIBS gradpool_coordinator)
gradpool_test(lifecycle_test SOURCES lifecycle_test.cc LIBS gradpool_coordinator)
gradpool_test(coordinator_api_test SOURCES coordinator_api_test.cc LIBS gradpool_coordinator)
gradpool_test(pool_metrics_test SOURCES pool_metrics_test.cc LIBS gradpool_coordinator)
gradpool_test(coordinator_main_test SOURCES coordinator_main_test.cc LIBS gradpool_coordinator)
add_dependencies(coordinator_main_test gradpool-coordinator)
