"""The Airflow layer: the only part of Ferry that imports Airflow at module level."""
