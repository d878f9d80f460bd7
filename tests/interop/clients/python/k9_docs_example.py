#!/usr/bin/env python3
# The k9 docs' Python example ("Authentication and Authorization": construct and sign a
# trigger account analysis request), as documented, with two changes only:
#   - api_host is this test's server (K9_API_HOST, e.g. 127.0.0.1:PORT) instead of
#     api.k9security.io, and the server's self-signed certificate is trusted through the
#     REQUESTS_CA_BUNDLE environment variable (set by the interop driver);
#   - one extra line prints the x-amzn-ErrorType response header, which the checks read.
# Credentials come from the environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
# AWS_SESSION_TOKEN) through botocore's credential chain, as with the documented script.

# adapted from https://github.com/DavidMuller/aws-requests-auth
import os

import requests
from aws_requests_auth.boto_utils import BotoAWSRequestsAuth

api_host = os.environ["K9_API_HOST"]  # docs: 'api.k9security.io'
auth = BotoAWSRequestsAuth(aws_host=api_host,
                           aws_region='us-east-1',
                           aws_service='execute-api')

base_url = f'https://{api_host}'

customer_id = "C123456"
account_id = "123456789012"
account_analysis_url = f'{base_url}/customer/{customer_id}/account/{account_id}/analysis'

print(f'triggering account analysis using {account_analysis_url}')
response = requests.post(account_analysis_url,
                         json={"customerId": customer_id, "accountId": account_id},
                         auth=auth,
                         headers={})
print(f'status: {response.status_code}')
print(f"x-amzn-ErrorType: {response.headers.get('x-amzn-ErrorType', '')}")  # added
content = str(response.content, 'UTF-8')
print(f'content:\n{content}')
