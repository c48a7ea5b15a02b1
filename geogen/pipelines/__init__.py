"""geogen.pipelines."""
