# The Kedro project this example starts from (kedro-partitioned 1e800b0). Not run here: it is
# what examples/kedro-migration/pipeline.yml and sales_nodes.cpp replace.
import pandas as pd
from kedro.pipeline import Pipeline, node
from kedro_partitioned.pipeline import multinode
from kedro_partitioned.pipeline.decorators.helper_factory import date_range_filter


def clean_sales(sales: pd.DataFrame, config: dict) -> pd.DataFrame:
    kept = sales[sales["amount"] >= config["min_amount"]]
    return kept.assign(amount=kept["amount"] * config["fx_rate"])


def sales_total(clean: dict) -> pd.DataFrame:
    frames = [load() for load in clean.values()]
    rows = sum(len(f) for f in frames)
    amount = sum(f["amount"].sum() for f in frames)
    return pd.DataFrame({"partitions": [len(frames)], "rows": [rows], "amount": [round(amount, 2)]})


def create_pipeline(**kwargs) -> Pipeline:
    return Pipeline([
        multinode(
            func=clean_sales,
            partitioned_input="sales",
            partitioned_output="clean_sales",
            name="clean",
            configurator="params:sales_config",
            n_slices=4,
            filter=date_range_filter(min_date="2024-01-01", format="%Y-%m-%d"),
            tags=["daily"],
        ),
        node(func=sales_total, inputs="clean_sales", outputs="sales_total", name="total"),
    ])
