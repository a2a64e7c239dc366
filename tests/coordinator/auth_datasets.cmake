# Coordinator auth (tokens, roles) and datasets (store, Datasets service): included from
# CMakeLists.txt here.
gradpool_test(token_store_test SOURCES token_store_test.cc LIBS gradpool_auth)
gradpool_test(dataset_store_test SOURCES dataset_store_test.cc LIBS gradpool_datasets)
gradpool_test(datasets_service_test SOURCES datasets_service_test.cc LIBS gradpool_datasets)
