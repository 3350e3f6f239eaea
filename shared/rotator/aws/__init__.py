"""AWS clients the layer itself needs: the one boto3 client factory and the one Secrets Manager wrapper."""
