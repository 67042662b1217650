// Submits the form_post response to the relying party (OAuth 2.0 Form Post Response Mode).
document.getElementById("form-post").submit();
