@echo off
chcp 65001 >nul
rem Đăng ký tác vụ «chitieu-watch» trong Task Scheduler: chạy chitieu-watch.cmd khi máy khởi động,
rem bằng tài khoản SYSTEM, không giới hạn thời gian chạy. Chạy tệp này bằng quyền quản trị.
rem Trước đó: sửa đường dẫn trong chitieu-watch.cmd và trong thẻ <Command> của chitieu-watch-task.xml.
schtasks /Create /TN "chitieu-watch" /XML "%~dp0chitieu-watch-task.xml" /F
if errorlevel 1 exit /b 1
schtasks /Run /TN "chitieu-watch"
schtasks /Query /TN "chitieu-watch" /V /FO LIST
